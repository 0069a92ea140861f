"""What the messaging providers (Twilio, SendGrid) report, received as signed webhooks and
turned into record writes: delivery, replies, calls and consent."""
