//! The protocol's error answer (`{"error": "…"}`) and the JSON request body of the
//! feedback and admin routes, read whatever its Content-Type (`curl -d` sends
//! form-urlencoded) and refused in that same error shape when it is not a JSON object.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer: `status` with `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

/// A request body that is a JSON object.
pub(crate) struct JsonObject(pub(crate) Value);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| error(r.status(), r.body_text()))?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) if v.is_object() => Ok(JsonObject(v)),
            Ok(_) => Err(error(
                StatusCode::BAD_REQUEST,
                "the body must be a JSON object",
            )),
            Err(e) => Err(error(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}"),
            )),
        }
    }
}
