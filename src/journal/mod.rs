//! journal (to be built).
