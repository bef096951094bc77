//! Fuzz-style: the parsers of what sources send (a command's stdout, an
//! HTTP JSON document, a Prometheus API answer) and of what views send on
//! the socket take arbitrary bytes, and hand-made hostile ones, without a
//! panic, in time linear in the input, and with memory linear in it (issue
//! 9). Memory is measured by a counting allocator, per thread, so the
//! tests running beside this one in the same binary do not count.

#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rampdeck::engine::Reading;
use rampdeck::session::protocol::decode_client;
use rampdeck::sources::command::first_number;
use rampdeck::sources::http_json::{document_from_response, reading_at};
use rampdeck::sources::prometheus::{range_from_response, reading_from_response};

/// Counts live heap bytes and their high-water mark, per thread: this
/// binary runs many tests at once, and only the bytes the parser's own
/// thread allocates are the parser's. (A parse runs on the calling
/// thread; bytes freed here that another thread allocated only lower the
/// count, which can only make the bound easier to prove wrong, never
/// hide a parser's allocation.)
struct Counting;

thread_local! {
    // Const-initialized and without a destructor: reading them never
    // allocates and never fails, so the allocator may use them.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn add(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().wrapping_add(delta);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is passed to the system allocator unchanged; the
// counters are const-initialized thread-locals of plain integers and never
// allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as isize));
    }
}

// The one global allocator of the `it` binary: every test runs with it.
#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `parse` on `input` and checks the bounds: no more than a few times
/// the input in extra memory (plus a constant), and time within a
/// generous linear budget (a debug build on a loaded 2-core machine).
fn bounded<T>(what: &str, input: &[u8], parse: impl FnOnce(&[u8]) -> T) -> T {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let started = Instant::now();
    let out = parse(input);
    let took = started.elapsed();
    let extra = usize::try_from(PEAK.with(Cell::get).saturating_sub(base)).unwrap_or(0);
    let allowed_mem = 24 * input.len() + (1 << 20);
    assert!(
        extra <= allowed_mem,
        "{what}: {extra} bytes for a {} byte input",
        input.len()
    );
    let allowed_time = Duration::from_millis(500) + Duration::from_micros(input.len() as u64 * 2);
    assert!(
        took <= allowed_time,
        "{what}: {took:?} for a {} byte input",
        input.len()
    );
    out
}

fn all_parsers(input: &[u8]) {
    let text = String::from_utf8_lossy(input).into_owned();
    if let Some(v) = bounded("first_number", text.as_bytes(), |b| {
        first_number(std::str::from_utf8(b).unwrap())
    }) {
        assert!(v.is_finite());
    }
    for http in [200, 400, 503] {
        let r = bounded("prometheus instant", input, |b| {
            reading_from_response(http, b)
        });
        if let Reading::Value { value, .. } = r {
            assert!(!value.is_nan());
        }
        let _ = bounded("prometheus range", input, |b| range_from_response(http, b));
        if let Ok(doc) = bounded("http_json", input, |b| document_from_response(http, b)) {
            for pointer in ["", "/0", "/data/value", "/a/b/c/d", "/~1", "/x/0/y"] {
                let _ = reading_at(&doc, pointer);
            }
        }
    }
    let _ = bounded("socket line", input, decode_client);
}

/// JSON-ish text: the shapes a Prometheus or JSON source sends, mutated.
fn jsonish() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("\"NaN\"".to_string()),
        Just("\"+Inf\"".to_string()),
        Just("\"-Inf\"".to_string()),
        Just("\"1e999999\"".to_string()),
        any::<f64>().prop_map(|f| format!("\"{f}\"")),
        any::<i64>().prop_map(|i| i.to_string()),
        "[a-z\"\\\\]{0,12}".prop_map(|s| format!("\"{s}\"")),
        Just("\"success\"".to_string()),
        Just("\"vector\"".to_string()),
        Just("\"matrix\"".to_string()),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("status"),
                        Just("data"),
                        Just("resultType"),
                        Just("result"),
                        Just("metric"),
                        Just("value"),
                        Just("values"),
                        Just("warnings"),
                        Just("errorType"),
                        Just("error"),
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| {
                let body: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

#[test]
fn parsers_take_any_bytes_in_bounded_time_and_memory() {
    let cases = |n| Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    };
    // Arbitrary bytes, short and long.
    let mut runner = TestRunner::new(cases(256));
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..4096), |bytes| {
            all_parsers(&bytes);
            Ok(())
        })
        .unwrap();
    // JSON-shaped answers, mutated by a stray byte now and then.
    let mut runner = TestRunner::new(cases(512));
    runner
        .run(
            &(jsonish(), any::<u16>(), any::<u8>()),
            |(json, at, byte)| {
                let mut bytes = json.into_bytes();
                if !bytes.is_empty() && at % 4 == 0 {
                    let i = usize::from(at) % bytes.len();
                    bytes[i] = byte;
                }
                all_parsers(&bytes);
                Ok(())
            },
        )
        .unwrap();
    // What hostile sources sent in the field, at the size cap (1 MiB).
    let mib = 1 << 20;
    let digits = vec![b'9'; mib];
    all_parsers(&digits);
    let nested = [vec![b'['; mib / 2], vec![b']'; mib / 2]].concat();
    all_parsers(&nested);
    let mut many_series =
        String::from(r#"{"status":"success","data":{"resultType":"vector","result":["#);
    while many_series.len() < mib {
        many_series.push_str(r#"{"metric":{"pod":"p"},"value":[1,"1"]},"#);
    }
    many_series.push_str(r#"{"metric":{},"value":[1,"2"]}]}}"#);
    match bounded("many series", many_series.as_bytes(), |b| {
        reading_from_response(200, b)
    }) {
        Reading::ProviderError { code, .. } => assert_eq!(code.as_deref(), Some("not_aggregated")),
        other => panic!("{other:?}"),
    }
    let long_value = format!(
        r#"{{"status":"success","data":{{"resultType":"scalar","result":[1,"{}"]}}}}"#,
        "1".repeat(mib)
    );
    all_parsers(long_value.as_bytes());
    let long_string = format!("[\"{}\"]", "a".repeat(mib));
    all_parsers(long_string.as_bytes());
}
