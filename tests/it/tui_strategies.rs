//! The ramp panel in each strategy's own terms (issue 14): blue-green's
//! preview, switch, instant-rollback countdown and scale-down, at 200x50
//! and 80x24.

use crate::kit::snapshot::screen;
use rampdeck::tui::fixtures_strategy::{snapshot_blue_green, snapshot_rolling};

#[test]
fn blue_green_preview_200x50() {
    let s = screen(&snapshot_blue_green(60), 200, 50);
    assert!(
        s.contains("preview: the new stack takes no user traffic yet"),
        "{s}"
    );
    assert!(s.contains("weight 0 %"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn blue_green_after_the_switch_200x50_and_80x24() {
    // The preview's 2 minutes, the switch, then 48 s at 100 %.
    let snap = snapshot_blue_green(170);
    let s = screen(&snap, 200, 50);
    assert!(s.contains("weight 100 %"), "{s}");
    assert!(
        s.contains("instant rollback (switch back) available for 04:1"),
        "{s}"
    );
    assert!(s.contains("switched"), "the log shows the switch: {s}");
    insta::assert_snapshot!("blue_green_switched_200x50", s);
    let small = screen(&snap, 80, 24);
    assert!(
        small.contains("instant rollback (switch back) available for"),
        "{small}"
    );
    insta::assert_snapshot!("blue_green_switched_80x24", small);
}

#[test]
fn blue_green_after_the_scale_down_says_a_rollback_redeploys() {
    let snap = snapshot_blue_green(500);
    let s = screen(&snap, 200, 50);
    assert!(
        s.contains("old stack scaled down: a rollback redeploys the old version"),
        "{s}"
    );
    assert!(s.contains("scaled_down"), "{s}");
}

#[test]
fn rolling_shows_the_instances_on_each_version_200x50_and_80x24() {
    let snap = snapshot_rolling(90);
    let s = screen(&snap, 200, 50);
    assert!(
        s.contains("4 of 8 instances on the new version, 4 on the old (batch 2 of 4)"),
        "{s}"
    );
    assert!(s.contains("batch_done"), "{s}");
    insta::assert_snapshot!("rolling_batch_2_200x50", s);
    let small = screen(&snap, 80, 24);
    assert!(small.contains("4 of 8 new, 4 old"), "{small}");
    insta::assert_snapshot!("rolling_batch_2_80x24", small);
}
