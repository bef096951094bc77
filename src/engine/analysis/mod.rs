//! Judgement beyond thresholds, as pure math over numbers the engine holds:
//! SLO burn rates over several windows (`burn`), Kayenta's Mann-Whitney
//! canary judge (`mannwhitney` for the test, `classifier` for the
//! classification and the step score), and an anytime-valid sequential test
//! on error counts (`sequential`). The gates call these; nothing here knows
//! about phases, steps or time beyond the values passed in.

pub mod burn;
pub mod classifier;
pub mod mannwhitney;
pub mod sequential;
