//! API errors as gRPC statuses: the same messages as the REST API, with the matching code.

use crate::api::ApiError;
use tonic::{Code, Status};

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        let code = match &error {
            ApiError::BadRequest(_) => Code::InvalidArgument,
            ApiError::NotFound(_) => Code::NotFound,
            ApiError::Unauthorized(_) => Code::Unauthenticated,
            ApiError::Forbidden(_) => Code::PermissionDenied,
            ApiError::MethodNotAllowed(_) => Code::Unimplemented,
            ApiError::Timeout(_) => Code::DeadlineExceeded,
            ApiError::Store(_) | ApiError::Internal(_) => Code::Internal,
        };
        Status::new(code, error.to_string())
    }
}
