//! The `interop-rust-peer` binary as the harness starts it: `--control-url`, logs on stderr
//! only, a clean exit when the harness hangs up, a failing exit when it cannot connect.

use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use interop_protocol::{Command, PeerMessage, Request};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command as Process};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

const WAIT: Duration = Duration::from_secs(20);

async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {WAIT:?} waiting for {what}"))
}

/// The peer binary with captured output; killed if the test ends early.
fn spawn_peer(control_url: &str) -> Child {
    Process::new(env!("CARGO_BIN_EXE_interop-rust-peer"))
        .args(["--control-url", control_url])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn interop-rust-peer")
}

async fn next_message(ws: &mut WebSocketStream<TcpStream>, what: &str) -> PeerMessage {
    match within(what, ws.next()).await {
        Some(Ok(Message::Text(text))) => {
            serde_json::from_str(text.as_str()).expect("a protocol message")
        }
        other => panic!("expected {what} as a text frame, got {other:?}"),
    }
}

async fn read_all(pipe: Option<impl tokio::io::AsyncRead + Unpin>) -> String {
    let mut text = String::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_string(&mut text).await.expect("read output");
    }
    text
}

#[tokio::test]
async fn the_binary_serves_the_harness_until_it_hangs_up() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "ws://{}/control?slot=s1&token=t",
        listener.local_addr().expect("address")
    );
    let mut child = spawn_peer(&url);
    let (tcp, _) = within("the peer to connect", listener.accept())
        .await
        .expect("accept");
    let mut ws = tokio_tungstenite::accept_async(tcp)
        .await
        .expect("handshake");

    let PeerMessage::Hello(hello) = next_message(&mut ws, "hello").await else {
        panic!("the first message must be hello");
    };
    assert_eq!(hello.implementation, "rust");
    assert_eq!(hello.version, interop_rust_peer::WEBRTC_VERSION);

    let request = Request {
        id: 1,
        command: Command::CreateOffer,
    };
    ws.send(Message::text(
        serde_json::to_string(&request).expect("json"),
    ))
    .await
    .expect("send");
    match next_message(&mut ws, "the create_offer response").await {
        PeerMessage::Response {
            id: 1,
            ok: None,
            error: Some(error),
            ..
        } => assert_eq!(error.name, "InvalidStateError"),
        other => panic!("expected an InvalidStateError response, got {other:?}"),
    }

    ws.close(None).await.expect("close");
    let status = within("the peer to exit", child.wait())
        .await
        .expect("wait");
    assert!(status.success(), "exit status {status}");
    let stdout = read_all(child.stdout.take()).await;
    let stderr = read_all(child.stderr.take()).await;
    assert_eq!(stdout, "", "logs go to stderr, stdout stays empty");
    assert!(
        stderr.contains("connected to the harness"),
        "stderr: {stderr}"
    );
}

#[tokio::test]
async fn the_binary_fails_when_the_harness_is_unreachable() {
    // Bind then drop, so the port is (almost certainly) closed.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        listener.local_addr().expect("address").port()
    };
    let mut child = spawn_peer(&format!("ws://127.0.0.1:{port}/control?slot=s&token=t"));
    let status = within("the peer to exit", child.wait())
        .await
        .expect("wait");
    assert!(!status.success(), "must fail without a harness");
    let stderr = read_all(child.stderr.take()).await;
    assert!(
        stderr.contains("failed to connect to the harness"),
        "stderr: {stderr}"
    );
}
