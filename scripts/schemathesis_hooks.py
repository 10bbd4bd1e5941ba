"""Schemathesis hooks for scripts/schemathesis: the `no_phi_echo` check.

Every string submitted as PHI during the run is remembered: the values of
`fields` in record create and patch bodies, and the values of a search
(`value`, and the values of `fields` of a compound search). A response fails
the check when its body contains any remembered value, unless the response is
one that exists to disclose a record's own fields to an authorized reader:

  * 200 of GET    /v1/collections/{collection}/records/{id}  (the record)
  * 200 of PATCH  /v1/collections/{collection}/records/{id}  (the changed record)
  * 200 of POST   /v1/collections/{collection}/search        (the matching records)
  * 200 of POST   /v1/collections/{collection}/export        (de-identified export:
    Safe Harbor drops identifiers but keeps the other fields, so a submitted
    non-identifying value may legitimately appear in it)

The admin running the test holds those grants, so these are disclosures the
API is meant to make. Everything else must never carry a submitted value:
the create response (an id only), every error (4xx/5xx, including search and
validation errors about a value), the audit trail, the accounting of
disclosures, incidents, lockdowns and the rest.

Values are remembered across requests (a set, so re-running during shrinking
is harmless): an audit or disclosures response must not leak a value sent in
an earlier request either. Strings shorter than MIN_LEN are ignored: short
random strings match static text (codes, hex request ids) by chance.
"""

import json

import schemathesis

MIN_LEN = 6

RECORD = "/v1/collections/{collection}/records/{id}"
CREATE = "/v1/collections/{collection}/records"
SEARCH = "/v1/collections/{collection}/search"
EXPORT = "/v1/collections/{collection}/export"

# (method, path) whose 2xx responses are meant to disclose record fields.
DISCLOSING = {
    ("GET", RECORD),
    ("PATCH", RECORD),
    ("POST", SEARCH),
    ("POST", EXPORT),
}


def _strings(value):
    """Every string inside a JSON value (keys are field names, not PHI)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _phi_submitted(case):
    method = case.operation.method.upper()
    path = case.operation.path
    body = case.body
    if not isinstance(body, dict):
        return
    if (method, path) in {("POST", CREATE), ("PATCH", RECORD)}:
        yield from _strings(body.get("fields"))
    elif (method, path) == ("POST", SEARCH):
        yield from _strings(body.get("value"))
        yield from _strings(body.get("fields"))


@schemathesis.check
class no_phi_echo:
    """Fail when a response body carries a PHI value submitted in the run."""

    def __init__(self):
        self.submitted = set()

    def after_response(self, ctx, response, case):
        for s in _phi_submitted(case):
            if len(s.strip()) >= MIN_LEN:
                self.submitted.add(s)
        method = case.operation.method.upper()
        if 200 <= response.status_code < 300 and (method, case.operation.path) in DISCLOSING:
            return
        text = response.text or ""
        # The request id is random hex; drop it so it cannot match by chance.
        try:
            rid = json.loads(text)["error"]["request_id"]
            text = text.replace(rid, "")
        except (ValueError, KeyError, TypeError):
            pass
        for s in self.submitted:
            # As sent, and as a JSON string escapes it.
            if s in text or json.dumps(s, ensure_ascii=False)[1:-1] in text:
                raise AssertionError(
                    f"{method} {case.operation.path} answered {response.status_code} "
                    f"with a PHI value submitted in the run ({len(s)} characters)"
                )
