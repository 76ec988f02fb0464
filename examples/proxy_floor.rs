//! The proxy floor: the least a proxy on `cutover serve`'s HTTP stack does.
//! axum's server (hyper, HTTP/1.1 keep-alive, `TCP_NODELAY`) takes each
//! request and hands it as it came to hyper-util's pooled client (the stack
//! serve's proxy mode uses), pointed at one upstream, and streams the
//! response back. Nothing else: no flags, no key, no mirror, no header
//! policy, no metrics, no report.
//!
//!     cargo run --release --example proxy_floor -- --upstream http://127.0.0.1:8002 --port 0
//!
//! Binds 127.0.0.1 and prints one line, `listening on http://127.0.0.1:PORT`,
//! to stdout (flushed) once it accepts connections. `scripts/bench-serve`
//! measures the latency it adds over calling the upstream directly, beside
//! serve's: the part of serve's added latency that its HTTP stack and the
//! extra loopback round trip cost, whatever serve itself does.
//!
//! # Non-goals
//! Everything a real proxy must do: hop-by-hop headers (forwarded as they
//! came), redirects, timeouts, `Host` rewriting, errors beyond a 502.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use clap::Parser;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
struct Args {
    /// The port to listen on (0: a free one, printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The upstream every request goes to, e.g. http://127.0.0.1:8002.
    #[arg(long)]
    upstream: String,
}

struct Proxy {
    client: Client<HttpConnector, Body>,
    upstream: String,
}

async fn forward(State(proxy): State<Arc<Proxy>>, mut request: Request) -> Response {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("{}{path}", proxy.upstream).parse::<Uri>() else {
        return (StatusCode::BAD_REQUEST, "bad path").into_response();
    };
    *request.uri_mut() = uri;
    match proxy.client.request(request).await {
        Ok(response) => response.map(Body::new),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let upstream = args.upstream.trim_end_matches('/').to_owned();
    if upstream.parse::<Uri>().is_err() {
        eprintln!(
            "proxy_floor: --upstream {upstream:?} is not a URL; write e.g. http://127.0.0.1:8002"
        );
        return ExitCode::from(2);
    }
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("proxy_floor: cannot listen on 127.0.0.1:{}: {e}", args.port);
            return ExitCode::from(2);
        }
    };
    let Ok(addr) = listener.local_addr() else {
        eprintln!("proxy_floor: the listener has no address");
        return ExitCode::from(2);
    };
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(Arc::new(Proxy { client, upstream }));
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxy_floor: {e}");
            ExitCode::from(2)
        }
    }
}
