"""service_plan: the runbooks' five services into components and role variables, and bad maps."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.emergency.rollback.plugins.filter.service_plan import FilterModule, service_plan

ENDPOINTS = [
    {"name": "stripe payments", "provider": "stripe", "endpoint_id": "we_1", "url": "https://a/stripe"},
    {"name": "booking partners", "provider": "generic", "endpoint_id": "bk", "url": "https://a/booking"},
]
MAP = {
    "auth": {"units": ["shop-auth.service"], "files": ["/srv/shop/shared/auth.env"], "cache_patterns": ["session:*"]},
    "payments": {
        "units": ["shop-payments.service"],
        "files": ["/srv/shop/shared/payments.env"],
        "env_flags": {"ENABLE_NEW_PAYMENT_FLOW": False},
        "cache_patterns": ["payments:*", "checkout:*"],
        "alembic": {"branch": "payments", "revision": "-1"},
        "webhook_endpoints": ["stripe payments"],
    },
    "booking": {"cache_patterns": ["booking:*"], "webhook_endpoints": ["booking partners"]},
    "notifications": {"env_flags": {"ENABLE_PUSH_V2": False}},
    "integrations": {"alembic": {"revision": "0007_partner_sync"}},
}


def test_registered_as_filter():
    assert FilterModule().filters()["service_plan"] is service_plan


def test_payments_maps_to_its_parts_only():
    plan = service_plan(MAP, ["payments"], endpoints=ENDPOINTS)
    assert plan["services"] == ["payments"]
    assert plan["components"] == ["database", "app", "cache", "webhooks"]  # never ssl
    assert plan["vars"]["database"] == {"database_alembic_downgrade_to": "payments@-1", "database_restore_snapshot": ""}
    assert plan["vars"]["app"] == {
        "app_strategy": "none",
        "app_config_files": ["/srv/shop/shared/payments.env"],
        "app_env_set": {"ENABLE_NEW_PAYMENT_FLOW": False},
        "app_restart": "command",
        "app_restart_command": ["systemctl", "restart", "shop-payments.service"],
    }
    assert plan["vars"]["cache"]["cache_redis_patterns"] == ["payments:*", "checkout:*"]
    assert plan["vars"]["cache"]["cache_redis_flushdb"] is False and plan["vars"]["cache"]["cache_cdn_purge_urls"] == []
    assert plan["vars"]["webhooks"] == {"webhooks_endpoints": [ENDPOINTS[0]]}


@pytest.mark.parametrize(
    ("services", "components"),
    [
        (["auth"], ["app", "cache"]),
        (["booking"], ["cache", "webhooks"]),
        (["notifications"], ["app"]),
        (["integrations"], ["database"]),
        (["notifications", "booking"], ["app", "cache", "webhooks"]),
    ],
)
def test_each_service_runs_only_the_components_it_maps_to(services, components):
    assert service_plan(MAP, services, endpoints=ENDPOINTS)["components"] == components


def test_services_together_merge_their_parts():
    plan = service_plan(MAP, ["auth", "payments", "booking"], endpoints=ENDPOINTS)
    assert plan["vars"]["cache"]["cache_redis_patterns"] == ["session:*", "payments:*", "checkout:*", "booking:*"]
    assert plan["vars"]["app"]["app_restart_command"] == [
        "systemctl",
        "restart",
        "shop-auth.service",
        "shop-payments.service",
    ]
    names = [e["name"] for e in plan["vars"]["webhooks"]["webhooks_endpoints"]]
    assert names == ["stripe payments", "booking partners"]


def test_flags_only_restart_nothing():
    app = service_plan(MAP, ["notifications"], endpoints=[])["vars"]["app"]
    assert app["app_restart"] == "none" and app["app_restart_command"] == [] and app["app_config_files"] == []


def test_endpoint_names_unchecked_where_no_webhooks_role_runs():
    plan = service_plan(MAP, ["payments"], endpoints=None)
    assert plan["vars"]["webhooks"] == {"webhooks_endpoints": []}


@pytest.mark.parametrize(
    ("service_map", "services", "endpoints", "message"),
    [
        (MAP, ["billing"], ENDPOINTS, "unknown service billing (the map has auth, booking, integrations,"),
        (MAP, [], ENDPOINTS, "rollback_services must be a non-empty list"),
        (MAP, "payments", ENDPOINTS, "rollback_services must be a non-empty list"),
        ({}, ["payments"], ENDPOINTS, "rollback_service_map must be a non-empty mapping"),
        ({"p": {"unit": ["x"]}}, ["p"], [], "service p has unknown key unit"),
        ({"p": ["x"]}, ["p"], [], "service p must map to a dict"),
        ({"p": {"units": "x.service"}}, ["p"], [], "service p: units must be a list of non-empty strings"),
        ({"p": {"env_flags": ["A=1"]}}, ["p"], [], "service p: env_flags must be a mapping"),
        ({"p": {"alembic": {"branch": "p"}}}, ["p"], [], "service p: alembic must be {revision"),
        (MAP, ["payments", "integrations"], ENDPOINTS, "one Alembic downgrade per run"),
        ({"a": {"env_flags": {"F": True}}, "b": {"env_flags": {"F": False}}}, ["a", "b"], [], "services set F to"),
        (MAP, ["payments"], [], "webhook endpoint stripe payments is not a name in webhooks_endpoints"),
        ({"p": {}}, ["p"], [], "services p map to nothing to roll back"),
    ],
)
def test_bad_input_fails_in_one_line_naming_it(service_map, services, endpoints, message):
    with pytest.raises(AnsibleFilterError) as err:
        service_plan(service_map, services, endpoints=endpoints)
    text = str(err.value)
    assert text.startswith("service_plan: ") and message in text and text.endswith("nothing was changed"), text
    assert "\n" not in text
