//! Every operation of the API, as its handler answers it. Kept in the order
//! of `ROUTES`; the statuses listed per operation are the ones its handler
//! (or the vault call it makes) can return, on top of the common ones.

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, RefOr, Required};

use super::Op;
use super::schemas::{json, open_object, string};

pub(super) fn query(name: &str, schema: ObjectBuilder, required: bool) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .schema(Some(schema))
        .build()
}

/// 1-128 printable ASCII characters (audit event filters).
pub(super) fn filter() -> ObjectBuilder {
    string()
        .min_length(Some(1))
        .max_length(Some(128))
        .pattern(Some("^[!-~]{1,128}$"))
}

pub(super) fn op(method: &'static str, path: &'static str, summary: &'static str) -> Op {
    Op {
        method,
        path,
        summary,
        public: false,
        query: Vec::new(),
        body: None,
        ok: Vec::new(),
        errors: &[],
    }
}

impl Op {
    pub(super) fn public(mut self) -> Self {
        self.public = true;
        self
    }
    pub(super) fn query(mut self, p: Parameter) -> Self {
        self.query.push(p);
        self
    }
    pub(super) fn body(
        mut self,
        schema: impl Into<utoipa::openapi::RefOr<utoipa::openapi::Schema>>,
    ) -> Self {
        self.body = Some(schema.into());
        self
    }
    pub(super) fn ok(mut self, status: u16, r: utoipa::openapi::Response) -> Self {
        self.ok.push((status, r));
        self
    }
    /// Links the success response `status` to operations that take what it
    /// returns (`params`: parameter name to runtime expression), so
    /// stateful tests can follow a create to the created object.
    pub(super) fn links(
        mut self,
        status: u16,
        targets: &[(&str, &str)],
        params: &[(&str, &str)],
    ) -> Self {
        for (s, r) in &mut self.ok {
            if *s != status {
                continue;
            }
            for (method, path) in targets {
                let mut link = LinkBuilder::new().operation_id(format!("{method} {path}"));
                for (name, expr) in params
                    .iter()
                    .filter(|(n, _)| path.contains(&format!("{{{n}}}")))
                {
                    link = link.parameter(*name, *expr);
                }
                let name = format!("{method} {path}");
                r.links.insert(name, RefOr::T(link.build()));
            }
        }
        self
    }
    pub(super) fn errors(mut self, e: &'static [u16]) -> Self {
        self.errors = e;
        self
    }
}

/// The operations, in the order of `ROUTES`.
pub(super) fn all(schema: &phivault_core::schema::Schema) -> Vec<Op> {
    let mut v = super::ops_vault::records(schema);
    v.extend(super::ops_vault::access());
    v.extend(super::ops_other::audit());
    v.extend(super::ops_other::breach());
    v.extend(super::ops_other::telehealth());
    v.extend(super::ops_other::pages());
    v.push(
        op("GET", "/v1/openapi.json", "this document")
            .public()
            .ok(200, json("OpenAPI 3.1", open_object())),
    );
    v
}
