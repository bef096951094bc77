//! sources (to be built).
