//! One journal record and its byte-exact line format.
//!
//! A line is `{"seq":..,"ts":..,"rollout":..,<decision fields>,"prev":"<hex>","hash":"<hex>"}\n`.
//! `hash` is the SHA-256 of the line's bytes with the `,"hash":"<hex>"`
//! part removed, i.e. of `{...,"prev":"<hex>"}`. Verifying therefore needs
//! no re-serialization: strip that exact suffix, close the brace, hash the
//! bytes. Any edited byte changes the hash; an edit whose hash was
//! recomputed breaks the next record's `prev`.
//!
//! When the plan names a journal key (`[journal] key_env`), a record is
//! also sealed: `{...,"prev":"<hex>","hmac":"<hex>","hash":"<hex>"}`, where
//! `hmac` is the HMAC-SHA256, with that key, of `{...,"prev":"<hex>"}` (the
//! bytes an unsealed record's hash covers), and `hash` covers the line with
//! its `hmac`. Without the key nobody can write a record whose seal holds.
//! Lines without `hmac` (every journal written before seals existed) read
//! and verify as before.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::{Decision, Timestamp};

/// `prev` of the first record: 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One line of the journal: a [`Decision`] plus its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 1-based, contiguous.
    pub seq: u64,
    /// The engine time of the decision, written as UTC RFC 3339 with
    /// milliseconds ("2025-01-31T09:15:02.250Z").
    #[serde(with = "rfc3339_ms")]
    pub ts: Timestamp,
    /// The rollout's id; the same on every line of one journal.
    pub rollout: String,
    #[serde(flatten)]
    pub decision: Decision,
    /// `hash` of the previous record, [`GENESIS`] for the first.
    pub prev: String,
    /// HMAC-SHA256 (lowercase hex) with the journal key of this line up to
    /// and including `prev`; absent when the journal has no key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac: Option<String>,
    /// SHA-256 (lowercase hex) of this line without its `hash` field.
    pub hash: String,
}

/// What gets hashed: the record without `hash`, in the same field order.
#[derive(Serialize)]
struct Unsealed<'a> {
    seq: u64,
    #[serde(with = "rfc3339_ms")]
    ts: Timestamp,
    rollout: &'a str,
    #[serde(flatten)]
    decision: &'a Decision,
    prev: &'a str,
}

const HASH_KEY: &[u8] = b",\"hash\":\"";
/// `,"hash":"` + 64 hex digits + `"}`.
const SUFFIX_LEN: usize = HASH_KEY.len() + 64 + 2;
const HMAC_KEY: &[u8] = b",\"hmac\":\"";
/// `,"hmac":"` + 64 hex digits + `"`.
const HMAC_SUFFIX_LEN: usize = HMAC_KEY.len() + 64 + 1;

type HmacSha256 = hmac::Hmac<Sha256>;

/// The key that seals a journal's records (HMAC-SHA256). Never printed.
#[derive(Clone)]
pub struct SealKey(Vec<u8>);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(<redacted>)")
    }
}

/// The shortest key accepted, in bytes: shorter ones are guessable.
pub const MIN_KEY_BYTES: usize = 16;

impl SealKey {
    /// A key from its bytes; `None` when shorter than [`MIN_KEY_BYTES`].
    pub fn new(bytes: &[u8]) -> Option<SealKey> {
        (bytes.len() >= MIN_KEY_BYTES).then(|| SealKey(bytes.to_vec()))
    }

    fn mac(&self) -> Option<HmacSha256> {
        // HMAC takes a key of any length: this never fails.
        <HmacSha256 as hmac::Mac>::new_from_slice(&self.0).ok()
    }

    /// The seal of `body` (`{...,"prev":"<hex>"}`), as lowercase hex.
    fn seal(&self, body: &[u8]) -> String {
        use hmac::Mac;
        match self.mac() {
            Some(mut m) => {
                m.update(body);
                hex::encode(m.finalize().into_bytes())
            }
            None => String::new(),
        }
    }

    /// Whether `mac_hex` is the seal of `body` (constant time).
    fn holds(&self, body: &[u8], mac_hex: &[u8]) -> bool {
        use hmac::Mac;
        let mut raw = [0u8; 32];
        if hex::decode_to_slice(mac_hex, &mut raw).is_err() {
            return false;
        }
        match self.mac() {
            Some(mut m) => {
                m.update(body);
                m.verify_slice(&raw).is_ok()
            }
            None => false,
        }
    }
}

/// A record's seal, checked with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seal {
    Holds,
    /// The line carries no `hmac`.
    Missing,
    /// The `hmac` is not the key's seal of the record.
    Broken,
}

/// The `hmac` at the end of a sealed line (without its newline).
pub(crate) fn seal_of(line: &[u8]) -> Option<String> {
    let head = &line[..line.len().checked_sub(SUFFIX_LEN)?];
    let tail = &head[head.len().checked_sub(HMAC_SUFFIX_LEN)?..];
    if !tail.starts_with(HMAC_KEY) || !tail.ends_with(b"\"") {
        return None;
    }
    std::str::from_utf8(&tail[HMAC_KEY.len()..HMAC_KEY.len() + 64])
        .ok()
        .map(str::to_string)
}

/// Checks the seal of a complete line (without its newline) whose own hash
/// holds.
pub(crate) fn check_seal(line: &[u8], key: &SealKey) -> Seal {
    let Some(head) = line.len().checked_sub(SUFFIX_LEN).map(|n| &line[..n]) else {
        return Seal::Missing;
    };
    let Some(at) = head.len().checked_sub(HMAC_SUFFIX_LEN) else {
        return Seal::Missing;
    };
    let (body, tail) = head.split_at(at);
    if !tail.starts_with(HMAC_KEY) || !tail.ends_with(b"\"") {
        return Seal::Missing;
    }
    let mac = &tail[HMAC_KEY.len()..HMAC_KEY.len() + 64];
    let mut sealed = body.to_vec();
    sealed.push(b'}');
    if key.holds(&sealed, mac) {
        Seal::Holds
    } else {
        Seal::Broken
    }
}

/// Formats a timestamp as UTC RFC 3339 with milliseconds; `None` when it is
/// outside chrono's range (hundreds of thousands of years away).
pub fn format_ts(t: Timestamp) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(t.0)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// Parses an RFC 3339 timestamp (any offset) back to engine time.
pub fn parse_ts(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| Timestamp(d.timestamp_millis()))
}

mod rfc3339_ms {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _, ser::Error as _};

    use crate::engine::Timestamp;

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        match super::format_ts(*t) {
            Some(text) => s.serialize_str(&text),
            None => Err(S::Error::custom(format!(
                "timestamp {} ms is outside the range of calendar dates",
                t.0
            ))),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_ts(&text)
            .ok_or_else(|| D::Error::custom(format!("`{text}` is not an RFC 3339 timestamp")))
    }
}

/// Builds the full line (with its trailing newline) and its hash: what
/// [`super::JournalWriter::append`] writes, for tools and tests that build
/// journals in bulk.
pub fn seal(
    seq: u64,
    ts: Timestamp,
    rollout: &str,
    decision: &Decision,
    prev: &str,
) -> Result<(Vec<u8>, String), serde_json::Error> {
    seal_with(seq, ts, rollout, decision, prev, None)
}

/// [`seal`], and with a key, the record's HMAC seal too (see the module
/// doc for the line format).
pub fn seal_with(
    seq: u64,
    ts: Timestamp,
    rollout: &str,
    decision: &Decision,
    prev: &str,
    key: Option<&SealKey>,
) -> Result<(Vec<u8>, String), serde_json::Error> {
    let mut line = serde_json::to_vec(&Unsealed {
        seq,
        ts,
        rollout,
        decision,
        prev,
    })?;
    if let Some(key) = key {
        let mac = key.seal(&line);
        line.pop();
        line.extend_from_slice(HMAC_KEY);
        line.extend_from_slice(mac.as_bytes());
        line.extend_from_slice(b"\"}");
    }
    let hash = hex::encode(Sha256::digest(&line));
    // A struct always serializes to `{...}`; drop the brace to append `hash`.
    line.pop();
    line.extend_from_slice(HASH_KEY);
    line.extend_from_slice(hash.as_bytes());
    line.extend_from_slice(b"\"}\n");
    Ok((line, hash))
}

/// A complete line (without its newline), parsed.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub record: Record,
    /// The stored hash matches the line's bytes.
    pub hash_ok: bool,
}

/// Parses one line (without its newline) and checks its own hash. `Err`
/// says why the line is not a record at all.
pub(crate) fn parse_line(line: &[u8]) -> Result<Parsed, String> {
    if line.len() < SUFFIX_LEN + 2 {
        return Err(format!("{} bytes is too short for a record", line.len()));
    }
    let (head, tail) = line.split_at(line.len() - SUFFIX_LEN);
    let stored = &tail[HASH_KEY.len()..HASH_KEY.len() + 64];
    let well_formed_suffix = tail.starts_with(HASH_KEY)
        && tail.ends_with(b"\"}")
        && stored
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    if !well_formed_suffix {
        return Err("the line does not end with a `\"hash\":\"<64 hex digits>\"` field".into());
    }
    let record: Record =
        serde_json::from_slice(line).map_err(|e| format!("not a journal record: {e}"))?;
    let mut hasher = Sha256::new();
    hasher.update(head);
    hasher.update(b"}");
    let computed = hex::encode(hasher.finalize());
    let hash_ok = computed.as_bytes() == stored && record.hash.as_bytes() == stored;
    Ok(Parsed { record, hash_ok })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Actor, DecisionKind};

    fn decision() -> Decision {
        Decision {
            action: DecisionKind::Pause,
            actor: Actor::named("alice"),
            reason: "looks \"odd\"\nhere".into(),
            step: Some(1),
            weight: 10,
            phase: crate::engine::PhaseKind::Holding,
            gates: vec![],
            hook: None,
            at: None,
            detail: serde_json::Value::Null,
        }
    }

    #[test]
    fn sealed_line_parses_back_with_a_valid_hash() {
        let (line, hash) =
            seal(3, Timestamp(1_700_000_000_123), "r-1", &decision(), GENESIS).expect("seal");
        let text = String::from_utf8(line.clone()).expect("utf8");
        assert!(
            text.starts_with("{\"seq\":3,\"ts\":\"2023-11-14T22:13:20.123Z\",\"rollout\":\"r-1\",")
        );
        assert!(text.ends_with(&format!(",\"prev\":\"{GENESIS}\",\"hash\":\"{hash}\"}}\n")));
        assert_eq!(
            text.matches('\n').count(),
            1,
            "newlines inside values are escaped"
        );
        let parsed = parse_line(&line[..line.len() - 1]).expect("parse");
        assert!(parsed.hash_ok);
        assert_eq!(parsed.record.decision, decision());
        assert_eq!(parsed.record.ts, Timestamp(1_700_000_000_123));
        assert_eq!(parsed.record.hash, hash);
    }

    #[test]
    fn a_sealed_line_holds_only_with_its_key() {
        let key = SealKey::new(b"0123456789abcdef-key").expect("key");
        let other = SealKey::new(b"0123456789abcdef-other").expect("key");
        let (line, hash) =
            seal_with(1, Timestamp(0), "r", &decision(), GENESIS, Some(&key)).expect("seal");
        let line = &line[..line.len() - 1];
        let parsed = parse_line(line).expect("parse");
        assert!(parsed.hash_ok, "the hash covers the hmac too");
        assert_eq!(parsed.record.hash, hash);
        assert!(parsed.record.hmac.is_some());
        assert_eq!(check_seal(line, &key), Seal::Holds);
        assert_eq!(check_seal(line, &other), Seal::Broken);
        let (plain, _) = seal(1, Timestamp(0), "r", &decision(), GENESIS).expect("seal");
        assert_eq!(check_seal(&plain[..plain.len() - 1], &key), Seal::Missing);
        assert!(SealKey::new(b"short").is_none());
        assert_eq!(format!("{key:?}"), "SealKey(<redacted>)");
    }

    #[test]
    fn any_changed_byte_fails_the_hash_or_the_parse() {
        let (line, _) = seal(1, Timestamp(0), "r", &decision(), GENESIS).expect("seal");
        let line = &line[..line.len() - 1];
        for i in 0..line.len() {
            let mut edited = line.to_vec();
            edited[i] ^= 0x01;
            if let Ok(p) = parse_line(&edited) {
                assert!(!p.hash_ok, "flipping byte {i} went unnoticed");
            }
        }
    }
}
