"""The frontend team's four example responses (``shared/seed``), as its request wrote them.

They are the documented examples of the OpenAPI document (``/docs``); a test holds them
equal to the seed file, so they cannot drift from it. The numbers are the seed's own, not
reengage's answers (the seed's performance example is not one consistent dataset: see the
contract).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

RISK_METRICS: dict[str, Any] = {
    "organization_id": "org_xxx",
    "risk_summary": {
        "critical_risk": 12,
        "high_risk": 8,
        "medium_risk": 15,
        "low_risk": 23,
        "engaged": 45,
    },
    "alerts": {
        "missed_appointments_14d": 7,
        "failed_communications": 3,
        "overdue_followups": 12,
        "no_future_appointments": 18,
    },
    "immediate_actions_required": 15,
    "last_updated": "2025-06-30T08:00:00Z",
}

PERFORMANCE: dict[str, Any] = {
    "timeframe": "last_30_days",
    "reengagement_metrics": {
        "outreach_attempts": 145,
        "successful_contacts": 89,
        "contact_success_rate": 61.4,
        "appointments_scheduled": 67,
        "conversion_rate": 75.3,
        "avg_days_to_reengage": 8.5,
    },
    "communication_channels": {
        "sms": {"sent": 95, "delivered": 87, "responded": 52, "response_rate": 59.8},
        "email": {"sent": 78, "opened": 45, "responded": 23, "response_rate": 51.1},
        "phone": {
            "attempted": 34,
            "connected": 28,
            "appointment_booked": 21,
            "conversion_rate": 75.0,
        },
    },
    "benchmark_comparison": {
        "industry_avg_contact_rate": 55.0,
        "industry_avg_conversion": 68.0,
        "our_performance": "above_average",
    },
}

PRIORITIZED_LIST: dict[str, Any] = {
    "patients": [
        {
            "id": "patient_123",
            "name": "John Smith",
            "phone": "+1234567890",
            "email": "john.smith@email.com",
            "risk_level": "critical",
            "risk_score": 85,
            "days_since_last_contact": 47,
            "last_appointment_date": "2025-05-14",
            "next_scheduled_appointment": None,
            "recommended_action": "immediate_phone_call",
            "action_priority": 1,
            "communication_preferences": ["sms", "phone"],
            "best_contact_time": "morning",
            "previous_response_rate": 78.5,
            "total_lifetime_appointments": 12,
            "missed_appointments_last_90d": 2,
            "reengagement_history": [
                {"date": "2025-06-15", "method": "sms", "success": False, "reason": "no_response"}
            ],
            "health_conditions": ["chronic_pain", "physiotherapy"],
            "referral_source": "gp_referral",
            "last_treatment_outcome": "improved",
        }
    ],
    "summary": {
        "total_at_risk": 35,
        "immediate_action_required": 12,
        "avg_days_since_contact": 23.4,
        "success_rate_prediction": 67.2,
    },
}

TRENDS: dict[str, Any] = {
    "period": "30d",
    "daily_trends": [
        {
            "date": "2025-06-01",
            "new_at_risk": 3,
            "reengaged_successfully": 7,
            "outreach_attempts": 15,
            "appointments_scheduled": 5,
        }
    ],
    "channel_performance_trends": {
        "sms": {"success_rate_trend": "improving", "change_pct": 12.3},
        "email": {"success_rate_trend": "stable", "change_pct": -2.1},
        "phone": {"success_rate_trend": "declining", "change_pct": -8.7},
    },
    "risk_distribution_changes": {
        "critical_trend": "decreasing",
        "high_trend": "stable",
        "overall_improvement": True,
    },
}


SEED_EXAMPLES: dict[str, dict[str, Any]] = {
    "/risk-metrics": RISK_METRICS,
    "/performance": PERFORMANCE,
    "/patients/prioritized": PRIORITIZED_LIST,
    "/trends": TRENDS,
}


def seed_example(model: type[BaseModel], example: dict[str, Any]) -> dict[int | str, Any]:
    """The 200 answer documented with the frontend team's own example of it (the seed's)."""
    return {
        200: {
            "model": model,
            "content": {"application/json": {"example": example}},
            "description": "The figures; the example is the frontend team's request (the seed).",
        }
    }


def restore_seed_examples(spec: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Put the seed's examples back whole into a generated OpenAPI document: FastAPI drops
    every ``null`` from it, and with them the seed's ``"next_scheduled_appointment": null``."""
    for path, example in SEED_EXAMPLES.items():
        operation = spec["paths"][f"{prefix}{path}"]["get"]
        operation["responses"]["200"]["content"]["application/json"]["example"] = example
    return spec
