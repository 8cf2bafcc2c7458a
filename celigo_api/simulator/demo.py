"""The ``--seed demo`` account: Acme Retail, a believable integrator.io tenant to explore by hand.

Shopify → NetSuite orders, Amazon → NetSuite invoices with inventory shortfalls, Salesforce → NetSuite
customers, an HTTP webhook → Slack alert flow, a router flow, a disabled flow, a standalone flow (no
integration) and a sandbox integration — about 3,700 errors across every source and classification of
docs/celigo-api.md §2.3. A small EU account exists beside it to prove region isolation (§1.1).
"""

from __future__ import annotations

from . import catalog as c
from .build import FlowDef, StepDef, UserDef, WorldBuilder
from .world import World

MAIN_NAME = "Acme Retail (demo)"
EU_NAME = "Acme Retail EU (demo)"

TAGS = ["P1 - urgent", "Waiting on warehouse", "Known issue", "Needs customer contact", "Finance review"]


def _export(name: str, profile: c.StepProfile, errors: int, lookup: bool = False) -> StepDef:
    return StepDef(name, profile, errors, is_import=False, is_lookup=lookup)


def build_main(builder: WorldBuilder) -> World:
    """Populate the main NA demo account."""
    shopify = builder.integration("Shopify - NetSuite", description="Orders, fulfillments and refunds")
    amazon = builder.integration("Amazon - NetSuite", description="Amazon orders, invoices and inventory")
    salesforce = builder.integration("Salesforce - NetSuite", description="Customer master data sync")
    alerts = builder.integration("Ops Alerts", description="Monitoring webhooks to Slack")
    sandbox = builder.integration("Shopify - NetSuite (Sandbox)", sandbox=True)
    builder.users(
        [
            UserDef("Dana Whitfield", "dana.whitfield@acme-retail.example", "administrator"),
            UserDef("Luis Ortega", "luis.ortega@acme-retail.example", "manage"),
            UserDef("陈美 (Mei Chen)", "mei.chen@acme-retail.example", "monitor"),
            UserDef("Kwame Mensah", "kwame.mensah@acme-retail.example", None, integrations=[amazon]),
            UserDef("Sofia Rossi", "sofia.rossi@acme-retail.example", "manage", accepted=False),
            UserDef("Tom Becker", "tom.becker@acme-retail.example", "monitor", disabled=True),
        ]
    )
    builder.tags(TAGS)
    flows = [
        (
            FlowDef(
                "Shopify Order to NetSuite Sales Order",
                (_export("Get Shopify orders", c.SHOPIFY_ORDERS, 120),),
                (
                    _export("Find NetSuite customer by email", c.NETSUITE_CUSTOMER_LOOKUP, 260, lookup=True),
                    StepDef("Create NetSuite sales order", c.NETSUITE_SALES_ORDER, 900),
                ),
                auto_resolve=True,
                runs=48,
                schedule="? */30 * * * *",
            ),
            shopify,
        ),
        (
            FlowDef(
                "NetSuite Fulfillment to Shopify",
                (_export("NetSuite item fulfillments", c.NETSUITE_FULFILLMENTS, 25),),
                (StepDef("Create Shopify fulfillment", c.SHOPIFY_FULFILLMENT, 180),),
                runs=30,
            ),
            shopify,
        ),
        (
            FlowDef(
                "Shopify Refund to NetSuite Credit Memo",
                (_export("Get Shopify refunds", c.SHOPIFY_ORDERS, 10),),
                (StepDef("Create NetSuite credit memo", c.NETSUITE_SALES_ORDER, 40),),
                disabled=True,
                runs=8,
            ),
            shopify,
        ),
        (
            FlowDef(
                "Amazon Order to NetSuite Invoice",
                (_export("Get Amazon orders (SP-API)", c.AMAZON_ORDERS, 90),),
                (StepDef("Create NetSuite invoice", c.NETSUITE_INVOICE, 700),),
                runs=40,
            ),
            amazon,
        ),
        (
            FlowDef(
                "Amazon Inventory Sync",
                (_export("NetSuite inventory levels", c.NETSUITE_FULFILLMENTS, 10),),
                branches=(
                    (
                        "FBA",
                        (StepDef("NetSuite inventory adjustment", c.NETSUITE_INVENTORY_ADJUSTMENT, 120),),
                    ),
                    ("Merchant fulfilled", (StepDef("Amazon inventory feed", c.AMAZON_FEED, 80),)),
                ),
                runs=24,
            ),
            amazon,
        ),
        (
            FlowDef(
                "Salesforce Account to NetSuite Customer",
                (_export("Get Salesforce accounts", c.SALESFORCE_ACCOUNTS, 40),),
                (StepDef("Upsert NetSuite customer", c.NETSUITE_CUSTOMER, 300),),
                auto_resolve=True,
                runs=30,
            ),
            salesforce,
        ),
        (
            FlowDef(
                "NetSuite Customer to Salesforce Account",
                (_export("NetSuite customers (saved search)", c.NETSUITE_CUSTOMER_LOOKUP, 0),),
                (StepDef("Upsert Salesforce account", c.SALESFORCE_ACCOUNT_IMPORT, 160),),
                runs=30,
            ),
            salesforce,
        ),
        (
            FlowDef(
                "HTTP Alert Webhook to Slack",
                (_export("Monitoring webhook listener", c.WEBHOOK_ALERTS, 60),),
                (StepDef("Post Slack message", c.SLACK_MESSAGES, 200),),
                runs=60,
            ),
            alerts,
        ),
        (
            FlowDef(
                "Supplier Price List (SFTP) to NetSuite",
                (_export("Supplier price file", c.FTP_PRICES, 45),),
                (StepDef("Update NetSuite item prices", c.NETSUITE_ITEM_PRICE, 150),),
                runs=25,
            ),
            None,
        ),
    ]
    for spec, integration_id in flows:
        builder.flow(spec, integration_id)
    builder.flow(
        FlowDef(
            "Shopify Order to NetSuite Sales Order (sandbox)",
            (_export("Get Shopify orders (dev store)", c.SHOPIFY_ORDERS, 5),),
            (StepDef("Create NetSuite sales order (SB1)", c.NETSUITE_SALES_ORDER, 30),),
            runs=10,
        ),
        sandbox,
        sandbox=True,
    )
    return builder.world


def build_eu(builder: WorldBuilder) -> World:
    """Populate the small EU demo account."""
    shop = builder.integration("Shopify EU - NetSuite", description="EU storefront orders")
    builder.users(
        [
            UserDef("Anneke de Vries", "anneke.devries@acme-retail.example", "administrator"),
            UserDef("Søren Kierkegaard", "soren.k@acme-retail.example", "manage"),
        ]
    )
    builder.tags(["EU - GDPR review"])
    builder.flow(
        FlowDef(
            "Shopify EU Order to NetSuite Sales Order",
            (_export("Get Shopify EU orders", c.SHOPIFY_ORDERS, 10),),
            (StepDef("Create NetSuite sales order (EU)", c.NETSUITE_SALES_ORDER, 120),),
            runs=20,
        ),
        shop,
    )
    return builder.world
