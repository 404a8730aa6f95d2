//! The harness's own hot paths: writing a finished run to `results.jsonl` (one write and an
//! fsync per record), putting 10,000 records in plan order at the end of a parallel run, and
//! the capture relay forwarding datagrams (one way and a round trip through two proxies, with
//! the pcap record of each). `cargo bench -p interop-harness`.

use std::hint::black_box;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use interop_harness::capture::Capture;
use interop_harness::reporter::{JsonlWriter, Reporter, RunEvent};
use interop_results::{Implementation, Outcome, RunRecord, Timings, SCHEMA_VERSION};

/// A record shaped like a real data channel run (timings, observed values, a reason).
fn record(i: usize) -> RunRecord {
    let imp = |n: &str| Implementation {
        name: n.into(),
        version: "156.0.8078.114".into(),
        detail: Some(format!("{n}driver 156.0; Mozilla/5.0 (X11; Linux x86_64)")),
    };
    let mut timings = Timings {
        wall_ms: 1500.0,
        steps_ms: Some(1380.0),
        ..Default::default()
    };
    for role in ["offerer", "answerer"] {
        timings.to_connected_ms.insert(role.into(), 120.5);
        timings.channel_open_ms.insert(role.into(), 140.0);
        timings.round_trip_ms.insert(role.into(), 0.9);
    }
    timings.phases_ms.insert("dtls_handshake".into(), 12.5);
    RunRecord {
        schema_version: SCHEMA_VERSION,
        scenario: format!("datachannel-scenario-{i}"),
        parameters: Default::default(),
        repeat: None,
        feature: "data-channels".into(),
        offerer: imp("chrome"),
        answerer: imp("firefox"),
        outcome: Outcome::Fail,
        expected: Outcome::Pass,
        known_intermittent: Vec::new(),
        expectation: None,
        reason: Some("bob (firefox): expect_message: no message within 10s".into()),
        failed_step: None,
        timings,
        started_at: "2026-12-01T00:00:00Z".into(),
        artefacts: format!("runs/datachannel-scenario-{i}/chrome-firefox"),
        observed: [
            ("offerer.dtls_role".to_string(), "server".into()),
            ("capture.datagrams".to_string(), 1234.into()),
        ]
        .into(),
    }
}

fn result_writing(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = JsonlWriter::create(dir.path()).unwrap();
    let one = record(1);
    c.bench_function("results.jsonl: append + fsync one record", |b| {
        b.iter(|| {
            writer
                .report(&RunEvent::CellFinished {
                    index: 1,
                    finished: 1,
                    total: 1,
                    record: black_box(&one),
                })
                .unwrap()
        })
    });
    let records: Vec<RunRecord> = (0..10_000).map(record).collect();
    c.bench_function("results.jsonl: rewrite 10,000 records in plan order", |b| {
        b.iter(|| writer.rewrite_in_order(black_box(&records)).unwrap())
    });
}

/// Two sockets talking through a relay, as two peers of a run do.
struct Pair {
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    relay: Capture,
    a: UdpSocket,
    b: UdpSocket,
    b_for_a: std::net::SocketAddr,
    a_for_b: std::net::SocketAddr,
}

fn pair() -> Pair {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let relay = Capture::relay(&dir.path().join("capture.pcap"), Instant::now()).unwrap();
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    let (a_for_b, b_for_a) = {
        let _guard = rt.enter();
        (
            relay.proxy_for(0, a.local_addr().unwrap()).unwrap(),
            relay.proxy_for(1, b.local_addr().unwrap()).unwrap(),
        )
    };
    Pair {
        _rt: rt,
        _dir: dir,
        relay,
        a,
        b,
        b_for_a,
        a_for_b,
    }
}

fn relay_forwarding(c: &mut Criterion) {
    let p = pair();
    let payload = vec![0x17u8; 1200]; // a DTLS application data record of a full-size packet
    let mut buf = vec![0u8; 2048];
    let mut group = c.benchmark_group("capture relay");
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        "round trip of a 1200-byte datagram through the relay",
        |b| {
            b.iter(|| {
                p.a.send_to(&payload, p.b_for_a).unwrap();
                let (n, from) = p.b.recv_from(&mut buf).unwrap();
                p.b.send_to(&buf[..n], from).unwrap();
                p.a.recv_from(&mut buf).unwrap();
            })
        },
    );
    group.bench_function(
        "round trip of a 1200-byte datagram, direct (baseline)",
        |b| {
            let (a_addr, b_addr) = (p.a.local_addr().unwrap(), p.b.local_addr().unwrap());
            b.iter(|| {
                p.a.send_to(&payload, b_addr).unwrap();
                let (n, _) = p.b.recv_from(&mut buf).unwrap();
                p.b.send_to(&buf[..n], a_addr).unwrap();
                p.a.recv_from(&mut buf).unwrap();
            })
        },
    );
    // A burst as a bulk transfer makes it: 64 datagrams in flight, then all received.
    group.throughput(Throughput::Elements(64));
    group.bench_function("burst of 64 datagrams one way through the relay", |b| {
        b.iter(|| {
            for _ in 0..64 {
                p.a.send_to(&payload, p.b_for_a).unwrap();
            }
            for _ in 0..64 {
                p.b.recv_from(&mut buf).unwrap();
            }
        })
    });
    group.finish();
    assert_eq!(p.a_for_b.ip(), p.a.local_addr().unwrap().ip());
    p.relay.finish();
}

criterion_group!(benches, result_writing, relay_forwarding);
criterion_main!(benches);
