//! hooks (to be built).
