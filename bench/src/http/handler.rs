//! The one request handler every `--http` server runs: `GET /hello` answers
//! "Hello, world!\n", `POST /echo` answers the request body, anything else 404.
//! Generic over the request body, so ours (event-hyper's limited body) and hyper on
//! tokio (hyper's `Incoming`, wrapped in the same limit) run the same code.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;

/// The `GET /hello` body.
pub const HELLO: &[u8] = b"Hello, world!\n";

/// The request-body limit of event-hyper's `Server` (its default), also given to hyper on tokio.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// The handler: `GET /hello`, `POST /echo`, else 404 (400 if the body cannot be read).
pub async fn handle<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: Body<Data = Bytes>,
{
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/hello") => Ok(Response::new(Full::new(Bytes::from_static(HELLO)))),
        (&Method::POST, "/echo") => match req.into_body().collect().await {
            Ok(body) => Ok(Response::new(Full::new(body.to_bytes()))),
            Err(_) => Ok(status(StatusCode::BAD_REQUEST)),
        },
        _ => Ok(status(StatusCode::NOT_FOUND)),
    }
}

/// The handler behind the same body limit event-hyper's `Server` applies: a declared length over
/// [`MAX_BODY`] gets 413, the body is read through [`Limited`].
pub async fn handle_limited(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.body().size_hint().lower() > MAX_BODY as u64 {
        return Ok(status(StatusCode::PAYLOAD_TOO_LARGE));
    }
    handle(req.map(|b| Limited::new(b, MAX_BODY))).await
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = code;
    r
}
