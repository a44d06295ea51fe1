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

/// Why a request is refused, as the protocol answers it (`{"error": message}` with the
/// status the kind implies). Handlers return `Result<_, ApiError>` and `?` does the rest.
#[derive(Debug)]
pub(crate) enum ApiError {
    /// 400: the request is wrong; the message says how.
    BadRequest(String),
    /// 401: the admin token is missing or wrong.
    Unauthorized(String),
    /// 403: the admin API is off.
    Forbidden(String),
    /// 404: no such model or version is served.
    NotFound(String),
    /// 409: the registry refused the change (a policy, a failed gate).
    Conflict(String),
    /// 500: the server could not do what it should have (a poisoned lock, a write).
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl ApiError {
    /// The status and the message, apart (the console shows them on a page).
    pub(crate) fn parts(self) -> (StatusCode, String) {
        let status = self.status();
        let (ApiError::BadRequest(m)
        | ApiError::Unauthorized(m)
        | ApiError::Forbidden(m)
        | ApiError::NotFound(m)
        | ApiError::Conflict(m)
        | ApiError::Internal(m)) = self;
        (status, m)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, m) = self.parts();
        error(status, m)
    }
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
