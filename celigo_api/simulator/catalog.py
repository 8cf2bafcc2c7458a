"""Realistic error content: templates per kind of flow step, and the values that fill them.

A template is chosen per error from hash bits, so an error's text is a pure function of (seed, step, index).
Sources, classifications and codes follow docs/celigo-api.md §2.3; the messages imitate what NetSuite,
Salesforce, Shopify, Amazon SP-API and Slack really answer, including the hostile cases the product must
survive (HTML bodies, ``<script>``, very long stack traces, non-Latin names; docs/architecture.md
"Principles").
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate

from .ids import mix64

FIRST_NAMES = ("Olivia", "Liam", "Søren", "Zoë", "José", "Amara", "Noah", "Chloé", "Mateus", "Priya", "Björn")
LAST_NAMES = ("Martin", "García", "Øster", "O'Brien", "Nguyen", "Kowalski", "Dubois", "Okafor", "Müller")
NON_LATIN_NAMES = (
    "山田 太郎",
    "Иван Петров",
    "محمد الأحمد",
    "김민준",
    "Ελένη Παπαδοπούλου",
    "שרה כהן",
    "Nguyễn Văn An",
    "ศิริพร ใจดี",
)
COMPANIES = ("Northwind Traders", "Contoso Ltd", "Fabrikam, Inc.", "Tailspin Toys", "Wide World Importers")
LOCATIONS = ("Main Warehouse", "East DC", "FBA - Reno", "Store 12 - Lyon", "3PL Rotterdam")
SUBSIDIARIES = ("Acme Retail US", "Acme Retail EU B.V.", "Acme Retail UK Ltd")
NS_FIELDS = ("entity", "location", "department", "class", "shipmethod", "terms", "custbody_channel")

MAX_WEIGHT = 1000


@dataclass(frozen=True)
class ErrorTemplate:
    """One kind of error a step produces.

    ``message`` is a ``str.format`` pattern over :func:`values_for` keys, or a callable for long texts.
    ``retriable`` says whether errors of this kind carry a ``retryDataKey`` (§2.3: it may be absent).
    ``http`` = (method, status) gives the error a ``reqAndResKey`` and a request/response log (§2.10).
    """

    source: str
    classification: str
    code: str
    message: str | Callable[[dict[str, str]], str]
    weight: int = 10
    retriable: bool = True
    http: tuple[str, int] | None = None
    response_body: str | None = None

    def render(self, values: dict[str, str]) -> str:
        """The error message with this error's values filled in."""
        if callable(self.message):
            return self.message(values)
        return self.message.format(**values)


@dataclass(frozen=True)
class StepProfile:
    """What a kind of step (e.g. "NetSuite sales order import") looks like when it fails."""

    key: str
    adaptor_type: str
    connection: str
    templates: tuple[ErrorTemplate, ...]
    trace_prefix: str = ""
    base_url: str = "https://example.com"
    record: Callable[[dict[str, str]], dict[str, object]] = field(default=lambda v: {"id": v["trace"]})
    _cumulative: tuple[int, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_cumulative", tuple(accumulate(t.weight for t in self.templates)))

    def template_index(self, h: int) -> int:
        """Pick a template index from hash bits, respecting the weights."""
        total = self._cumulative[-1]
        return bisect_right(self._cumulative, (h >> 3) % total)


def values_for(h: int, trace: str) -> dict[str, str]:
    """The fake business values one error's message, record and HTTP log are written with."""
    a, b = mix64(h ^ 0xA5), mix64(h ^ 0x5A)
    if a % 9 == 0:
        name = NON_LATIN_NAMES[b % len(NON_LATIN_NAMES)]
    else:
        name = f"{FIRST_NAMES[a % len(FIRST_NAMES)]} {LAST_NAMES[b % len(LAST_NAMES)]}"
    if b % 41 == 0:
        # Hostile input arrives through ordinary customer fields (docs/architecture.md "Principles").
        name = "<script>alert('owned')</script>" + name
    qty = 1 + a % 24
    email_local = f"{FIRST_NAMES[a % len(FIRST_NAMES)].lower()}.{(b >> 7) % 9000 + 100}"
    return {
        "trace": trace,
        "customer": name,
        "email": f"{email_local}@example.com" if a % 13 else f"{email_local}@@example",
        "company": COMPANIES[(a >> 5) % len(COMPANIES)],
        "sku": f"SKU-{(a >> 11) % 90000 + 10000}",
        "qty": str(qty),
        "avail": str((b >> 3) % qty),
        "amount": f"{(a >> 17) % 250000 / 100:.2f}",
        "currency": ("USD", "EUR", "GBP", "JPY")[(b >> 13) % 4],
        "location": LOCATIONS[(b >> 17) % len(LOCATIONS)],
        "subsidiary": SUBSIDIARIES[(a >> 23) % len(SUBSIDIARIES)],
        "field": NS_FIELDS[(b >> 21) % len(NS_FIELDS)],
        "internal_id": str((a >> 29) % 900000 + 1000),
        "sf_id": f"001{(b >> 9):015X}"[:18],
        "line": str((a >> 31) % 40 + 1),
        "retry_s": str((b >> 33) % 50 + 2),
        "error_id": f"{(a >> 7):x}"[:12],
        "channel": ("#ops-alerts", "#netsuite-sync", "#warehouse")[(a >> 37) % 3],
        "file_date": f"2026-0{(b >> 41) % 5 + 1}-{(a >> 43) % 27 + 1:02d}",
    }


def _stack_trace(values: dict[str, str]) -> str:
    frames = "\n".join(
        f"    at mapLine{n} (/SuiteScripts/acme/so_map_{values['line']}.js:{100 + n * 7}:{n % 40 + 3})"
        for n in range(120)
    )
    return (
        "TypeError: Cannot read properties of undefined (reading 'price') while mapping line "
        f"{values['line']} of order {values['trace']}\n{frames}"
    )


def _huge_body(values: dict[str, str]) -> str:
    lines = json.dumps(
        {"order": values["trace"], "lines": [{"sku": values["sku"], "qty": i} for i in range(300)]}
    )
    return f"Request entity too large (413) for order {values['trace']}; payload was: {lines}"


_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
    "</center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>"
)


def _order_record(v: dict[str, str]) -> dict[str, object]:
    return {
        "id": v["trace"],
        "email": v["email"],
        "customer": {"first_name": v["customer"].split(" ")[0], "last_name": v["customer"].split(" ")[-1]},
        "currency": v["currency"],
        "total_price": v["amount"],
        "line_items": [{"sku": v["sku"], "quantity": int(v["qty"]), "price": v["amount"]}],
        "shipping_address": {"city": "Lyon", "country_code": "FR"},
    }


def _invoice_record(v: dict[str, str]) -> dict[str, object]:
    return {
        "AmazonOrderId": v["trace"],
        "PurchaseDate": f"{v['file_date']}T10:15:00Z",
        "OrderTotal": {"CurrencyCode": v["currency"], "Amount": v["amount"]},
        "items": [{"SellerSKU": v["sku"], "QuantityOrdered": int(v["qty"]), "location": v["location"]}],
    }


def _customer_record(v: dict[str, str]) -> dict[str, object]:
    return {
        "Id": v["sf_id"],
        "Name": v["company"],
        "Contact": v["customer"],
        "Email": v["email"],
        "BillingCountry": "France",
        "Subsidiary": v["subsidiary"],
    }


def _alert_record(v: dict[str, str]) -> dict[str, object]:
    return {
        "alert_id": v["trace"],
        "severity": "critical",
        "text": f"Order {v['trace']} stuck for {v['retry_s']} min",
        "channel": v["channel"],
    }


def _price_record(v: dict[str, str]) -> dict[str, object]:
    return {"itemid": v["sku"], "price": v["amount"], "currency": v["currency"], "line": int(v["line"])}


T = ErrorTemplate

SHOPIFY_ORDERS = StepProfile(
    key="shopify_orders",
    adaptor_type="HTTPExport",
    connection="Shopify - acme-retail.myshopify.com",
    trace_prefix="#",
    base_url="https://acme-retail.myshopify.com/admin/api/2024-04",
    record=_order_record,
    templates=(
        T(
            "connection",
            "connection",
            "401",
            '{{"errors":"[API] Invalid API key or access token"}}',
            8,
            False,
            ("GET", 401),
            '{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}',
        ),
        T(
            "connection",
            "intermittent",
            "429",
            "Exceeded 2 calls per second for api client. Reduce request rates "
            "to resume uninterrupted service.",
            12,
            True,
            ("GET", 429),
            '{"errors":"Exceeded 2 calls per second"}',
        ),
        T(
            "connection",
            "intermittent",
            "502",
            "Unexpected token < in JSON at position 0: " + _GATEWAY_HTML,
            6,
            True,
            ("GET", 502),
            _GATEWAY_HTML,
        ),
        T(
            "resource",
            "parse",
            "invalid_json",
            "Failed to parse response body: Unexpected end of JSON input at "
            "position 16384 (page 3 of orders since {file_date})",
            4,
            False,
        ),
        T(
            "transformation",
            "value",
            "transformation_error",
            "Transformation failed for order {trace}: "
            "'line_items[0].price' is not a number (value: \"{amount} {currency}\")",
            8,
        ),
        T(
            "pre_save_page_hook",
            "value",
            "script_error",
            "preSavePage hook 'dropTestOrders' threw: "
            "ReferenceError: tags is not defined (order {trace}, customer {customer})",
            5,
        ),
        T(
            "output_filter",
            "value",
            "filter_error",
            "Output filter failed on order {trace}: field 'financial_status' missing",
            3,
        ),
    ),
)

NETSUITE_CUSTOMER_LOOKUP = StepProfile(
    key="netsuite_customer_lookup",
    adaptor_type="NetSuiteExport",
    connection="NetSuite - Acme Retail (1234567)",
    record=_order_record,
    templates=(
        T(
            "lookup",
            "missing",
            "lookup_failed",
            "No customer found in NetSuite for email {email} (order {trace}). "
            "Dynamic lookup 'Find customer by email' returned 0 results.",
            20,
        ),
        T(
            "lookup",
            "duplicate",
            "multiple_results",
            "Lookup 'Find customer by email' returned 2 records for "
            "{email}: internal ids {internal_id}, {line}. Expected exactly one.",
            6,
        ),
        T(
            "resource",
            "governance",
            "SSS_USAGE_LIMIT_EXCEEDED",
            "Script Execution Usage Limit Exceeded while searching customers (10000 units).",
            4,
        ),
        T(
            "input_filter",
            "value",
            "filter_error",
            "Input filter expression failed: Cannot compare 'null' and "
            "'string' on field email for order {trace}",
            2,
        ),
    ),
)

NETSUITE_SALES_ORDER = StepProfile(
    key="netsuite_sales_order",
    adaptor_type="NetSuiteDistributedImport",
    connection="NetSuite - Acme Retail (1234567)",
    record=_order_record,
    templates=(
        T(
            "application",
            "value",
            "INVALID_KEY_OR_REF",
            "Invalid item reference key {internal_id} for subsidiary {subsidiary}.",
            18,
        ),
        T(
            "application",
            "value",
            "INVALID_FLD_VALUE",
            "You have entered an Invalid Field Value {internal_id} for the following field: {field}",
            14,
        ),
        T("application", "missing", "USER_ERROR", "Please enter value(s) for: Location, Department", 10),
        T(
            "application",
            "duplicate",
            "DUP_RCRD",
            "A Sales Order with External ID SHOPIFY-{trace} already exists.",
            9,
        ),
        T(
            "application",
            "intermittent",
            "UNEXPECTED_ERROR",
            "An unexpected error occurred. Error ID: {error_id}",
            5,
        ),
        T(
            "application",
            "governance",
            "SSS_REQUEST_LIMIT_EXCEEDED",
            "Request limit exceeded. Only 5 concurrent requests are allowed for this account.",
            6,
        ),
        T(
            "mapping",
            "value",
            "mapping_error",
            "Mapping failed for field 'item.quantity': expected a number "
            'but got "{qty} pcs" (order {trace})',
            6,
        ),
        T("post_map_hook", "value", "script_error", _stack_trace, 3),
        T(
            "post_submit_hook_ss",
            "value",
            "SSS_MISSING_REQD_ARGUMENT",
            "postSubmit SuiteScript "
            "'acme_so_after_submit': nlapiSubmitField: Missing a required argument: id",
            2,
        ),
        T(
            "pre_map_hook_ss",
            "value",
            "SSS_INVALID_TYPE_ARG",
            "preMap SuiteScript: You have entered an invalid type argument: salesorderx",
            1,
        ),
        T(
            "import_filter",
            "value",
            "filter_error",
            "Import filter 'skip POS orders' failed: source_name is undefined",
            1,
        ),
        T(
            "internal",
            "none",
            "internal_error",
            "An internal error occurred while importing the record. "
            "Please contact Celigo support with reference {error_id}.",
            1,
            False,
        ),
    ),
)

AMAZON_ORDERS = StepProfile(
    key="amazon_orders",
    adaptor_type="HTTPExport",
    connection="Amazon Seller Central (SP-API) - NA",
    trace_prefix="",
    base_url="https://sellingpartnerapi-na.amazon.com/orders/v0",
    record=_invoice_record,
    templates=(
        T(
            "connection",
            "intermittent",
            "429",
            '{{"errors":[{{"code":"QuotaExceeded","message":"You exceeded '
            'your quota for the requested resource."}}]}}',
            14,
            True,
            ("GET", 429),
            '{"errors":[{"code":"QuotaExceeded",'
            '"message":"You exceeded your quota for the requested resource."}]}',
        ),
        T(
            "connection",
            "connection",
            "403",
            '{{"errors":[{{"code":"Unauthorized","message":"Access to requested '
            'resource is denied.","details":""}}]}}',
            5,
            False,
            ("GET", 403),
            '{"errors":[{"code":"Unauthorized",'
            '"message":"Access to requested resource is denied.","details":""}]}',
        ),
        T(
            "connection",
            "intermittent",
            "500",
            "Amazon SP-API returned 500 InternalFailure for order {trace}",
            4,
            True,
            ("GET", 500),
            '{"errors":[{"code":"InternalFailure","message":"We encountered an internal error."}]}',
        ),
        T(
            "post_aggregate_hook",
            "value",
            "script_error",
            "postAggregate hook 'splitSettlement' threw: RangeError: Invalid array length",
            2,
        ),
    ),
)

NETSUITE_INVOICE = StepProfile(
    key="netsuite_invoice",
    adaptor_type="NetSuiteDistributedImport",
    connection="NetSuite - Acme Retail (1234567)",
    record=_invoice_record,
    templates=(
        T(
            "application",
            "value",
            "INSUFFICIENT_INVENTORY",
            "Insufficient inventory for item {sku} at location "
            "{location}: requested {qty}, available {avail}.",
            30,
        ),
        T(
            "application",
            "value",
            "INVALID_INVENTORY_DETAIL",
            "The total inventory detail quantity must be {qty}. (item {sku}, line {line})",
            12,
        ),
        T(
            "application",
            "missing",
            "INVALID_KEY_OR_REF",
            "Invalid entity reference key {internal_id}: the "
            "customer for Amazon order {trace} does not exist.",
            8,
        ),
        T(
            "application",
            "value",
            "INVALID_AMT",
            "Invalid amount {amount} {currency}: the invoice total does not match the settlement total.",
            5,
        ),
        T(
            "response_mapping",
            "value",
            "response_mapping_error",
            "Response mapping failed: 'id' not found in the NetSuite response for order {trace}",
            2,
        ),
        T(
            "post_response_map_hook",
            "value",
            "script_error",
            "postResponseMap hook 'tagInvoice' threw: TypeError: record.tags.push is not a function",
            2,
        ),
    ),
)

SALESFORCE_ACCOUNTS = StepProfile(
    key="salesforce_accounts",
    adaptor_type="SalesforceExport",
    connection="Salesforce - acme.my.salesforce.com",
    record=_customer_record,
    templates=(
        T(
            "connection",
            "connection",
            "INVALID_SESSION_ID",
            "INVALID_SESSION_ID: Session expired or invalid",
            6,
            False,
        ),
        T(
            "connection",
            "intermittent",
            "QUERY_TIMEOUT",
            "QUERY_TIMEOUT: Your query request was running for too long.",
            4,
        ),
        T(
            "pre_save_page_hook",
            "value",
            "script_error",
            "preSavePage hook: SyntaxError: Unexpected token '}}' in customer {customer}",
            2,
        ),
    ),
)

NETSUITE_CUSTOMER = StepProfile(
    key="netsuite_customer",
    adaptor_type="NetSuiteDistributedImport",
    connection="NetSuite - Acme Retail (1234567)",
    record=_customer_record,
    templates=(
        T(
            "application",
            "duplicate",
            "DUP_ENTITY",
            "This entity already exists: {company} ({customer}).",
            12,
        ),
        T(
            "application",
            "value",
            "INVALID_FLD_VALUE",
            "Invalid email address: {email} (customer {customer})",
            10,
        ),
        T(
            "application",
            "value",
            "INVALID_FLD_VALUE",
            "You have entered an Invalid Field Value {company} for the following field: subsidiary",
            6,
        ),
        T(
            "mapping",
            "missing",
            "mapping_error",
            "Required field 'companyname' resolved to an empty value for Salesforce account {sf_id}",
            6,
        ),
        T(
            "pre_send_hook_ss",
            "value",
            "SSS_INVALID_SRCH_FILTER",
            "preSend SuiteScript: An nlobjSearchFilter contains invalid search criteria: custentity_sf_id",
            2,
        ),
        T(
            "post_map_hook_ss",
            "value",
            "SSS_TIME_LIMIT_EXCEEDED",
            "postMap SuiteScript exceeded the time limit (customer {customer})",
            1,
        ),
    ),
)

SALESFORCE_ACCOUNT_IMPORT = StepProfile(
    key="salesforce_account_import",
    adaptor_type="SalesforceImport",
    connection="Salesforce - acme.my.salesforce.com",
    record=_customer_record,
    templates=(
        T(
            "application",
            "value",
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "FIELD_CUSTOM_VALIDATION_EXCEPTION: "
            "Billing Country must be a valid ISO 3166 code: [BillingCountry]",
            10,
        ),
        T(
            "application",
            "missing",
            "REQUIRED_FIELD_MISSING",
            "REQUIRED_FIELD_MISSING: Required fields are missing: [Name]",
            8,
        ),
        T(
            "application",
            "duplicate",
            "DUPLICATES_DETECTED",
            "DUPLICATES_DETECTED: Use one of these records? ({company})",
            6,
        ),
        T(
            "application",
            "value",
            "STRING_TOO_LONG",
            "STRING_TOO_LONG: Account Name: data value too large: {customer} {company} {company} {company}",
            3,
        ),
        T(
            "pre_map_hook",
            "value",
            "script_error",
            "preMap hook 'normalizeCountry' threw: TypeError: Cannot read properties of null (reading "
            "'toUpperCase') for account {company}",
            3,
        ),
        T(
            "application",
            "governance",
            "REQUEST_LIMIT_EXCEEDED",
            "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.",
            2,
        ),
    ),
)

WEBHOOK_ALERTS = StepProfile(
    key="webhook_alerts",
    adaptor_type="WebhookExport",
    connection="Acme monitoring webhook",
    trace_prefix="ALERT-",
    record=_alert_record,
    templates=(
        T(
            "resource",
            "parse",
            "invalid_json",
            "Unexpected token < in JSON at position 0: <!DOCTYPE html><html>"
            '<body onload="alert(1)"><h1>Maintenance</h1></body></html>',
            6,
        ),
        T("resource", "value", "payload_too_large", _huge_body, 2),
        T(
            "internal",
            "intermittent",
            "internal_error",
            "Webhook listener timed out after 30000 ms while processing alert {trace}",
            3,
        ),
    ),
)

SLACK_MESSAGES = StepProfile(
    key="slack_messages",
    adaptor_type="HTTPImport",
    connection="Slack - acme-ops",
    trace_prefix="ALERT-",
    base_url="https://slack.com/api",
    record=_alert_record,
    templates=(
        T(
            "application",
            "value",
            "400",
            '{{"ok":false,"error":"invalid_blocks","response_metadata":{{"messages":'
            '["[ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text]"]}}}}',
            8,
            True,
            ("POST", 400),
            '{"ok":false,"error":"invalid_blocks"}',
        ),
        T(
            "application",
            "missing",
            "404",
            '{{"ok":false,"error":"channel_not_found"}} (channel {channel})',
            6,
            True,
            ("POST", 404),
            '{"ok":false,"error":"channel_not_found"}',
        ),
        T(
            "connection",
            "intermittent",
            "429",
            "Slack rate limit: retry after {retry_s} seconds",
            8,
            True,
            ("POST", 429),
            '{"ok":false,"error":"ratelimited"}',
        ),
        T(
            "application",
            "value",
            "500",
            "Slack returned 500: <html><body><script>window.location='https://"
            "status.slack.com'</script>Something went wrong</body></html>",
            3,
            True,
            ("POST", 500),
            "<html><body><script>window.location='https://status.slack.com'</script></body></html>",
        ),
        T(
            "post_submit_hook",
            "value",
            "script_error",
            "postSubmit hook 'markAlertSent' threw: Error: Request failed with status code 409",
            2,
        ),
    ),
)

SHOPIFY_FULFILLMENT = StepProfile(
    key="shopify_fulfillment",
    adaptor_type="HTTPImport",
    connection="Shopify - acme-retail.myshopify.com",
    trace_prefix="IF",
    base_url="https://acme-retail.myshopify.com/admin/api/2024-04",
    record=_order_record,
    templates=(
        T(
            "application",
            "value",
            "422",
            '{{"errors":{{"line_items":["fulfillable quantity must be less than or '
            'equal to {avail} for {sku}"]}}}}',
            10,
            True,
            ("POST", 422),
            '{"errors":{"line_items":["fulfillable quantity must be less than or equal to the quantity"]}}',
        ),
        T(
            "application",
            "missing",
            "404",
            '{{"errors":"Not Found"}} (order {trace})',
            5,
            True,
            ("POST", 404),
            '{"errors":"Not Found"}',
        ),
        T("application", "value", "413", _huge_body, 1, True, ("POST", 413), None),
    ),
)

NETSUITE_FULFILLMENTS = StepProfile(
    key="netsuite_fulfillments",
    adaptor_type="NetSuiteExport",
    connection="NetSuite - Acme Retail (1234567)",
    trace_prefix="IF",
    record=_order_record,
    templates=(
        T(
            "resource",
            "governance",
            "SSS_USAGE_LIMIT_EXCEEDED",
            "Saved search 'Fulfillments to Shopify' exceeded usage limits.",
            5,
        ),
        T(
            "connection",
            "intermittent",
            "SSS_REQUEST_TIME_EXCEEDED",
            "The search timed out after 180 seconds.",
            3,
        ),
    ),
)

FTP_PRICES = StepProfile(
    key="ftp_prices",
    adaptor_type="FTPExport",
    connection="Supplier SFTP - prices",
    trace_prefix="prices_",
    record=_price_record,
    templates=(
        T(
            "resource",
            "parse",
            "csv_parse_error",
            "Could not parse CSV file prices_{file_date}.csv at line {line}: unterminated quoted field",
            6,
        ),
        T("connection", "connection", "ECONNREFUSED", "connect ECONNREFUSED 203.0.113.17:22", 4, False),
        T(
            "resource",
            "missing",
            "file_not_found",
            "No file matched /outbound/prices_{file_date}*.csv",
            3,
            False,
        ),
    ),
)

NETSUITE_ITEM_PRICE = StepProfile(
    key="netsuite_item_price",
    adaptor_type="NetSuiteDistributedImport",
    connection="NetSuite - Acme Retail (1234567)",
    record=_price_record,
    templates=(
        T("application", "missing", "INVALID_KEY_OR_REF", "Invalid itemid reference key {sku}.", 10),
        T(
            "application",
            "value",
            "INVALID_FLD_VALUE",
            "Invalid price {amount} for currency {currency} (price level 'Base Price')",
            5,
        ),
    ),
)

NETSUITE_INVENTORY_ADJUSTMENT = StepProfile(
    key="netsuite_inventory_adjustment",
    adaptor_type="NetSuiteDistributedImport",
    connection="NetSuite - Acme Retail (1234567)",
    record=_invoice_record,
    templates=(
        T(
            "application",
            "value",
            "INSUFFICIENT_INVENTORY",
            "Insufficient inventory for item {sku} at location "
            "{location}: requested {qty}, available {avail}.",
            10,
        ),
        T("application", "missing", "INVALID_KEY_OR_REF", "Invalid location reference key {location}.", 4),
    ),
)

AMAZON_FEED = StepProfile(
    key="amazon_feed",
    adaptor_type="HTTPImport",
    connection="Amazon Seller Central (SP-API) - NA",
    base_url="https://sellingpartnerapi-na.amazon.com/feeds/2021-06-30",
    record=_invoice_record,
    templates=(
        T(
            "application",
            "value",
            "400",
            '{{"errors":[{{"code":"InvalidInput","message":"Invalid quantity for SKU {sku}"}}]}}',
            6,
            True,
            ("POST", 400),
            '{"errors":[{"code":"InvalidInput","message":"Invalid input"}]}',
        ),
        T(
            "connection",
            "intermittent",
            "429",
            "QuotaExceeded: You exceeded your quota for the requested resource.",
            5,
            True,
            ("POST", 429),
            '{"errors":[{"code":"QuotaExceeded"}]}',
        ),
    ),
)

EXPORT_PROFILES: tuple[StepProfile, ...] = (
    SHOPIFY_ORDERS,
    AMAZON_ORDERS,
    SALESFORCE_ACCOUNTS,
    WEBHOOK_ALERTS,
    FTP_PRICES,
    NETSUITE_FULFILLMENTS,
)
IMPORT_PROFILES: tuple[StepProfile, ...] = (
    NETSUITE_SALES_ORDER,
    NETSUITE_INVOICE,
    NETSUITE_CUSTOMER,
    SALESFORCE_ACCOUNT_IMPORT,
    SLACK_MESSAGES,
    SHOPIFY_FULFILLMENT,
    NETSUITE_ITEM_PRICE,
    NETSUITE_INVENTORY_ADJUSTMENT,
    AMAZON_FEED,
)
