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

Values are remembered across requests (sets, so re-running during shrinking
is harmless): an audit or disclosures response must not leak a value sent in
an earlier request either. Strings shorter than MIN_LEN are ignored: short
random strings match static text (codes, hex request ids) by chance.

The generator reuses strings across members and operations (the same draw
may be a birth date here and an incident summary or a `since` parameter
there). A value that was also sent anywhere outside a PHI member (path,
query, any other body member) is not counted: a response may show it as
that other member (an incident shows its summary, a report its `since`).
Schemathesis also feeds strings it saw in responses back into requests; a
value that an earlier response already carried is not counted either.

The script's own seed record (PHIVAULT_SEEDED_PHI, a JSON list) counts from
the start: its name, birth date, MRN and email must never appear outside the
disclosing responses (audit events, reports, errors).
"""

import json
import os

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


def _split(case):
    """(PHI strings, other strings) the request submitted."""
    method = case.operation.method.upper()
    path = case.operation.path
    body = case.body if isinstance(case.body, dict) else {}
    phi_members = ()
    if (method, path) in {("POST", CREATE), ("PATCH", RECORD)}:
        phi_members = ("fields",)
    elif (method, path) == ("POST", SEARCH):
        phi_members = ("value", "fields")
    phi = [s for m in phi_members for s in _strings(body.get(m))]
    other = [s for m, v in body.items() if m not in phi_members for s in _strings(v)]
    for part in (case.path_parameters, case.query):
        if isinstance(part, dict):
            other.extend(_strings(part))
            other.extend(str(v) for v in part.values() if not isinstance(v, (str, dict, list)))
    if case.body is not None and not isinstance(case.body, dict):
        other.extend(_strings(case.body))
    return phi, other


@schemathesis.check
class no_phi_echo:
    """Fail when a response body carries a PHI value submitted in the run."""

    def __init__(self):
        # Submitted only as PHI, so far.
        self.phi = set(json.loads(os.environ.get("PHIVAULT_SEEDED_PHI", "[]")))
        self.other = set()
        self.responses = set()

    def _remember(self, case):
        phi, other = _split(case)
        for o in other:
            if o not in self.other:
                self.other.add(o)
                self.phi = {s for s in self.phi if s not in o}
        for s in phi:
            if s in self.phi or len(s.strip()) < MIN_LEN:
                continue
            if any(s in o for o in self.other) or any(s in r for r in self.responses):
                continue
            self.phi.add(s)

    def after_response(self, ctx, response, case):
        self._remember(case)
        method = case.operation.method.upper()
        # Bytes, not `response.text`: some bodies are binary (the wasm file).
        text = (response.content or b"").decode("utf-8", errors="replace")
        # The request id is random hex; drop it so it cannot match by chance.
        try:
            rid = json.loads(text)["error"]["request_id"]
            text = text.replace(rid, "")
        except (ValueError, KeyError, TypeError):
            pass
        types = [v for k, vs in response.headers.items() if k.lower() == "content-type" for v in vs]
        if any("json" in t for t in types):
            self.responses.add(text)
        if 200 <= response.status_code < 300 and (method, case.operation.path) in DISCLOSING:
            return
        for s in self.phi:
            # As sent, and as a JSON string escapes it.
            if s in text or json.dumps(s, ensure_ascii=False)[1:-1] in text:
                raise AssertionError(
                    f"{method} {case.operation.path} answered {response.status_code} "
                    f"with a PHI value submitted in the run ({len(s)} characters)"
                )
