"""Every router of the app, in one list, so that the app factory stays short.

A domain package with pages or API routes adds its routers here. Domain packages keep their
``api.py`` and ``pages.py`` (DESIGN.md); they may import ``lawful.web.auth`` and friends, and the
web package imports them only here, inside the function, so that no import cycle arises.
"""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from lawful.agreements import api as agreements_api
    from lawful.agreements import pages as agreements_pages
    from lawful.agreements import portal_pages as agreements_portal_pages
    from lawful.agreements import public_pages as agreements_public_pages
    from lawful.agreements import signup_pages as agreements_signup_pages
    from lawful.authorities import api as authorities_api
    from lawful.authorities import pages as authorities_pages
    from lawful.billing import api as billing_api
    from lawful.billing import pages as billing_pages
    from lawful.billing import portal_pages as billing_portal_pages
    from lawful.customers import api as customers_api
    from lawful.customers import pages as customers_pages
    from lawful.monitoring import api as monitoring_api
    from lawful.monitoring import pages as monitoring_pages
    from lawful.monitoring import script as monitoring_script
    from lawful.monitoring import stats_api as monitoring_stats_api
    from lawful.monitoring import usage_api, usage_pages
    from lawful.retention import pages as retention_pages
    from lawful.rights import api as rights_api
    from lawful.rights import pages as rights_pages
    from lawful.rights import portal_pages as rights_portal_pages
    from lawful.rights import visitor_pages as rights_visitor_pages
    from lawful.support import api as support_api
    from lawful.support import pages as support_pages
    from lawful.users import api as users_api
    from lawful.users import console_pages as users_console_pages
    from lawful.users import pages as users_pages
    from lawful.web import console, console_profile, portal

    return [
        users_api.router,
        rights_api.router,
        rights_pages.router,
        rights_portal_pages.router,
        rights_visitor_pages.router,
        authorities_api.router,
        authorities_pages.router,
        retention_pages.router,
        customers_api.router,
        support_api.router,
        monitoring_api.router,
        console.router,
        portal.router,
        users_pages.router,
        customers_pages.router,
        support_pages.router,
        users_console_pages.router,
        console_profile.router,
        monitoring_stats_api.router,
        monitoring_pages.router,
        usage_api.router,
        usage_pages.router,
        monitoring_script.router,
        billing_api.router,
        billing_pages.router,
        billing_portal_pages.router,
        agreements_api.router,
        agreements_pages.router,
        agreements_portal_pages.router,
        agreements_public_pages.router,
        agreements_signup_pages.router,
    ]
