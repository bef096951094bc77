//! Build script (`build = "src/build.rs"` in Cargo.toml): link tuning for
//! the cockpit's memory, release builds on x86_64 Linux only (issue 11).
//!
//! A running cockpit's resident memory is mostly the binary's own code
//! pages: the kernel maps file pages around each one touched, so code the
//! cockpit runs, scattered among the code it never runs (plan, verify,
//! charts, the demo's server), keeps most of the binary resident. Two
//! linker flags change that, and nothing else:
//!
//! - `--symbol-ordering-file=src/link-order.txt` puts the functions a
//!   running cockpit calls next to each other at the start of `.text`
//!   (written by `benches/link_order.py`). A name the linker does not find
//!   (the code changed since the list was made) is skipped: the list can go
//!   stale and only cost memory, never correctness.
//! - `-z pack-relative-relocs` (DT_RELR, glibc 2.36 or later) stores the
//!   position-independent binary's 37,000 relocations in about 17 KB
//!   instead of 900 KB, which the loader reads at every start. The binary
//!   stays position-independent (ASLR is unchanged).
//!
//! Both flags are for rust-lld, rustc's default linker on this target since
//! 1.90. With another linker configured, an older rustc, a cross build, or
//! `RAMPDECK_PLAIN_LINK=1`, the build links as before.

use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=src/build.rs");
    println!("cargo:rerun-if-changed=src/link-order.txt");
    println!("cargo:rerun-if-env-changed=RAMPDECK_PLAIN_LINK");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    let var = |k: &str| env::var(k).unwrap_or_default();
    let target = var("TARGET");
    let wanted = var("PROFILE") == "release"
        && target == "x86_64-unknown-linux-gnu"
        && var("HOST") == target
        && env::var_os("RAMPDECK_PLAIN_LINK").is_none()
        && env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_none()
        && !var("CARGO_ENCODED_RUSTFLAGS").contains("link")
        && rustc_minor(&var("RUSTC")).is_some_and(|m| m >= 90);
    if !wanted {
        return;
    }
    let order = format!("{}/src/link-order.txt", var("CARGO_MANIFEST_DIR"));
    println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={order}");
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    if glibc_minor().is_some_and(|m| m >= 36) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// `rustc 1.95.0 (...)` → 95.
fn rustc_minor(rustc: &str) -> Option<u32> {
    let rustc = if rustc.is_empty() { "rustc" } else { rustc };
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    minor_after(&text, "rustc 1.")
}

/// `glibc 2.36` → 36 (the host's C library, which the binary runs on).
fn glibc_minor() -> Option<u32> {
    let out = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    minor_after(&text, "glibc 2.")
}

fn minor_after(text: &str, prefix: &str) -> Option<u32> {
    let rest = text.trim().strip_prefix(prefix)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
