"""A worker process for `AheadEvaluator`: reads (rows, sheet, date) requests as pickles on stdin,
answers each with the list of decisions on stdout, and ends at end of input.

Run as `python -m tasks.evaluate_worker`; it imports the pure core only (no Prefect, no
database), so it starts in well under a second.
"""

from __future__ import annotations

import os
import pickle
import sys

from qualification.evaluate import evaluate_rows


def main() -> None:
    requests = os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # a stray print must not corrupt the answers
    while True:
        try:
            rows, criteria, today = pickle.load(requests)
        except EOFError:
            return
        decisions = evaluate_rows(rows, criteria, today)
        for decision in decisions:
            decision.record_json()  # encoded here, on the second core
        pickle.dump(decisions, answers, pickle.HIGHEST_PROTOCOL)
        answers.flush()


if __name__ == "__main__":
    main()
