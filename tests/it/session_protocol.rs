//! Property tests of the attach protocol: the decoders never panic on any
//! input, and deltas rebuild exactly the snapshot the driver published.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::sync::Arc;

use crate::kit::snapshot::{plan, snapshot};
use proptest::prelude::*;
use rampdeck::engine::Timestamp;
use rampdeck::session::protocol::{
    self, ClientMsg, MAX_CLIENT_LINE, ProtocolError, ServerMsg, apply_update, decode_client,
    decode_server, diff,
};
use serde_json::Value;

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z_]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("command"),
            Just("ping"),
            Just("take_control"),
            Just("rollback"),
            Just("promote_full"),
            Just("connected"),
            Just("disconnected"),
            Just("snapshot"),
            Just("update"),
            Just("hello"),
            Just("bye"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_string()),
                    Just("command".to_string()),
                    Just("reason".to_string()),
                    Just("version".to_string()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoders_never_panic_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_client(&bytes);
        let _ = decode_server(&bytes);
    }

    #[test]
    fn decoders_never_panic_on_json(v in json()) {
        let line = serde_json::to_vec(&v).unwrap();
        // Whatever it decodes to, it is never a server-made pseudo message.
        if let Ok(m) = decode_client(&line) {
            let pseudo = matches!(m, ClientMsg::Connected | ClientMsg::Disconnected { .. });
            prop_assert!(!pseudo, "decoded a pseudo message: {:?}", m);
        }
        let _ = decode_server(&line);
    }

    #[test]
    fn client_messages_round_trip(reason in ".{0,200}", c in 0usize..6) {
        use rampdeck::engine::Command::*;
        let command = [Pause, Resume, Promote, PromoteFull, Rollback, Approve][c];
        for msg in [ClientMsg::Command { command, reason: reason.clone() }, ClientMsg::TakeControl, ClientMsg::Ping] {
            let line = protocol::encode(&msg).unwrap();
            prop_assert_eq!(decode_client(&line), Ok(msg));
        }
    }

    /// Random growth of the series (repeated timestamps, gaps, late points,
    /// ring overflow, resets): applying `diff` always gives `next`.
    #[test]
    fn updates_rebuild_the_published_snapshot(
        steps in prop::collection::vec(
            prop::collection::vec((0i64..3, prop::option::of(0u16..1000), any::<bool>()), 0..12),
            1..12,
        ),
        reset_at in prop::option::of(0usize..12),
    ) {
        let p = Arc::new(plan("r-prop", 2));
        let mut prev = snapshot(&p, 3, 8);
        let mut client = prev.clone();
        let mut t = 10_000i64;
        for (i, polls) in steps.into_iter().enumerate() {
            let mut next = prev.clone();
            next.version += 1;
            let series = Arc::make_mut(&mut next.series);
            if reset_at == Some(i) {
                series[1] = rampdeck::engine::series::MetricSeries::new("m1", 8);
            }
            for (dt, v, canary) in polls {
                // dt 0 repeats a timestamp; a "late" point goes back in time.
                t += dt - 1;
                let ms = &mut series[usize::from(canary)];
                let s = if canary { &mut ms.canary } else { &mut ms.baseline };
                s.push(Timestamp(t), v.map(|x| f64::from(x) / 8.0));
            }
            match diff(&prev, &next) {
                ServerMsg::Update(u) => prop_assert!(apply_update(&mut client, &u)),
                ServerMsg::Snapshot(s) => client = *s,
                other => prop_assert!(false, "unexpected {:?}", other),
            }
            prop_assert_eq!(&client, &next);
            // And through the wire.
            let line = protocol::encode(&diff(&prev, &next)).unwrap();
            prop_assert!(decode_server(&line).is_ok());
            prev = next;
        }
    }
}

#[test]
fn huge_lines_are_refused_whatever_they_hold() {
    let mut line = b"{\"type\":\"command\",\"command\":\"rollback\",\"reason\":\"".to_vec();
    line.resize(MAX_CLIENT_LINE * 16, b'x');
    line.extend_from_slice(b"\"}\n");
    assert!(matches!(
        decode_client(&line),
        Err(ProtocolError::Oversized { .. })
    ));
    // Deep nesting is an error, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    assert!(matches!(
        decode_client(deep.as_bytes()),
        Err(ProtocolError::Malformed(_))
    ));
    assert!(decode_server(deep.as_bytes()).is_err());
}

#[test]
fn an_unchanged_series_sends_no_points() {
    let p = Arc::new(plan("r-small", 3));
    let a = snapshot(&p, 100, 3600);
    let mut b = a.clone();
    b.version += 1;
    match diff(&a, &b) {
        ServerMsg::Update(u) => assert!(u.series.is_empty()),
        other => panic!("{other:?}"),
    }
    let b2 = crate::kit::snapshot::next_poll(&a);
    let ServerMsg::Update(u) = diff(&a, &b2) else {
        panic!("expected an update")
    };
    assert_eq!(u.series.len(), 6, "one point per metric and cohort");
    assert!(u.series.iter().all(|d| d.points.len() == 1));
    let full = protocol::encode(&ServerMsg::Snapshot(Box::new(b2.clone()))).unwrap();
    let delta = protocol::encode(&ServerMsg::Update(u)).unwrap();
    assert!(
        delta.len() * 5 < full.len(),
        "{} vs {}",
        delta.len(),
        full.len()
    );
}
