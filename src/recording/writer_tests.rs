use super::*;
use crate::engine::types::{Actor, Cohort, Command, Reading, Verdict};

fn header(id: &str) -> Header {
    let plan = crate::tui::fixtures::plan();
    Header {
        recording: format::FORMAT,
        rollout_id: id.into(),
        plan_hash: crate::engine::decision::plan_hash(&plan),
        plan,
        started: Timestamp(1_000),
    }
}

fn sample(t: i64) -> Entry {
    Entry {
        t: Timestamp(t),
        input: Input::Sample {
            metric: "error_rate".into(),
            cohort: Cohort::Canary,
            reading: Reading::value(0.5),
        },
        verdict: Some(Verdict::Pass),
    }
}

fn command(t: i64) -> Entry {
    Entry {
        t: Timestamp(t),
        input: Input::Command {
            command: Command::Pause,
            actor: Actor::named("ana"),
            reason: "look".into(),
        },
        verdict: None,
    }
}

fn on_disk(journal: &Path) -> usize {
    let text = std::fs::read_to_string(live_path(journal)).expect("read");
    text.lines().count() - 1
}

#[test]
fn samples_are_flushed_at_most_once_a_second_and_other_inputs_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let j = dir.path().join("r-1.jsonl");
    let mut r = Recorder::start(&j, &header("r-1"), false);
    r.record(&sample(1_100));
    r.record(&sample(1_500));
    assert_eq!(on_disk(&j), 0, "samples within the second stay buffered");
    r.record(&sample(2_000));
    assert_eq!(on_disk(&j), 3, "a second after the last flush");
    r.record(&sample(2_100));
    assert_eq!(on_disk(&j), 3);
    r.record(&command(2_200));
    assert_eq!(on_disk(&j), 5, "a command is flushed at once");
    assert_eq!(r.take_stop(), None);
}

#[test]
fn a_resume_drops_the_line_a_crash_cut_and_appends_after_it() {
    let dir = tempfile::tempdir().expect("dir");
    let j = dir.path().join("r-1.jsonl");
    let mut r = Recorder::start(&j, &header("r-1"), false);
    r.record(&sample(1_100));
    r.record(&command(1_200));
    drop(r);
    let mut f = OpenOptions::new()
        .append(true)
        .open(live_path(&j))
        .expect("open");
    f.write_all(b"{\"t\":1300,\"inp").expect("cut");
    drop(f);
    let mut r = Recorder::start(&j, &header("r-1"), true);
    assert_eq!(r.entries(), 2);
    r.record(&command(1_400));
    let rec = super::super::open(&live_path(&j)).expect("reads");
    assert_eq!(rec.entries.len(), 3);
    assert_eq!(rec.entries[2].t, Timestamp(1_400));
    // Another rollout's live file is not appended to.
    let mut other = Recorder::start(&j, &header("r-2"), true);
    let why = other.take_stop().expect("refused");
    assert!(why.contains("holds rollout r-1"), "{why}");
}

#[test]
fn the_size_cap_stops_the_recording_once_and_keeps_what_it_had() {
    let dir = tempfile::tempdir().expect("dir");
    let j = dir.path().join("r-1.jsonl");
    let mut r = Recorder::start(&j, &header("r-1"), false);
    r.record(&sample(1_100));
    r.bytes = MAX_BYTES - 10;
    r.record(&sample(1_200));
    r.record(&command(1_300));
    let why = r.take_stop().expect("stopped");
    assert!(why.contains("size cap of 512 MiB"), "{why}");
    assert_eq!(r.take_stop(), None, "said once");
    assert_eq!(on_disk(&j), 1);
    let sealed = r.seal().expect("seal").expect("sealed");
    assert!(sealed.incomplete);
    assert_eq!(sealed.entries, 1);
}

#[test]
fn a_sealed_recording_is_gzipped_hashed_and_the_live_file_removed() {
    let dir = tempfile::tempdir().expect("dir");
    let j = dir.path().join("r-1.jsonl");
    let mut r = Recorder::start(&j, &header("r-1"), false);
    for i in 0..50 {
        r.record(&sample(1_000 + i * 100));
    }
    r.record(&command(7_000));
    let sealed = r.seal().expect("seal").expect("sealed");
    assert!(!live_path(&j).exists());
    let gz = finished_path(&j);
    assert_eq!(sealed.file, "r-1.rec.jsonl.gz");
    assert_eq!(
        sha256_of(&gz).expect("hash"),
        (sealed.sha256.clone(), sealed.bytes)
    );
    assert_eq!(sealed.entries, 51);
    assert!(!sealed.incomplete);
    let rec = super::super::open(&gz).expect("reads");
    assert_eq!(rec.entries.len(), 51);
    assert_eq!(r.seal().expect("again"), None);

    // A driver that died after sealing, before `rollout_ended`, carries on
    // with the sealed recording.
    let mut r = Recorder::start(&j, &header("r-1"), true);
    assert_eq!(r.take_stop(), None);
    assert_eq!(r.entries(), 51);
    r.record(&command(8_000));
    let again = r.seal().expect("seal").expect("sealed");
    assert_eq!(again.entries, 52);
    assert_eq!(super::super::open(&gz).expect("reads").entries.len(), 52);
}

#[test]
fn a_recorder_that_cannot_create_its_file_says_why_and_records_nothing() {
    let j = Path::new("/nonexistent-dir-for-rampdeck/r-1.jsonl");
    let mut r = Recorder::start(j, &header("r-1"), false);
    r.record(&sample(1_100));
    let why = r.take_stop().expect("stopped");
    assert!(why.contains("could not open the recording"), "{why}");
    assert_eq!(r.seal().expect("nothing"), None);
}

#[test]
fn resuming_over_a_live_file_with_an_endless_line_refuses_it_after_a_line_s_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = dir.path().join("r-1.jsonl");
    let mut text = format::header_line(&header("r-1"));
    text.push('\n');
    text.push_str(&"x".repeat(4 * format::MAX_LINE));
    text.push('\n');
    std::fs::write(live_path(&journal), &text).expect("write");
    let err = complete_lines(&live_path(&journal), "r-1").expect_err("endless line");
    assert!(err.to_string().contains("longer than"), "{err}");
}
