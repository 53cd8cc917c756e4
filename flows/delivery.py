"""Delivery: every email and handoff that is due, every minute, whatever the channel runs do.

Emails and handoffs go independently: an SMTP outage never holds back the CRM, nor the reverse,
and delivery resumes by itself when the receiver is back (DESIGN §6)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from tasks.deliver import DeliveryReport, deliver_pending_handoffs, send_pending_emails


@flow(name="delivery", log_prints=False)
def delivery() -> tuple[DeliveryReport, DeliveryReport]:
    emails = send_pending_emails.submit()
    handoffs = deliver_pending_handoffs.submit()
    sent, handed = emails.result(), handoffs.result()
    get_run_logger().info(
        "delivery: %d emails sent (%d to retry, %d parked); %d handoffs (%d to retry, %d parked)",
        sent.delivered,
        sent.transient,
        sent.parked,
        handed.delivered,
        handed.transient,
        handed.parked,
    )
    return sent, handed
