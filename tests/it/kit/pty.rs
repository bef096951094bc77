//! A real pseudo-terminal for end-to-end tests: start `rampdeck` in it at a
//! given size, type keys, and read the screen as a person would see it
//! (through the `vt100` terminal emulator), plus every raw byte written.

use std::io::{Read, Write};
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

pub struct Term {
    pub master: Box<dyn MasterPty + Send>,
    pub child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    /// Signalled by the reader thread when the pty reports end of output.
    reader_done: mpsc::Receiver<()>,
    exit: Option<u32>,
}

impl Term {
    /// Starts the rampdeck binary with `args` in a `cols`×`rows` terminal,
    /// in `cwd`, with `env` on top of this process's environment (minus
    /// `NO_COLOR`, with `TERM=xterm-256color`).
    pub fn start(args: &[&str], cols: u16, rows: u16, env: &[(&str, &str)], cwd: &Path) -> Term {
        Term::start_program(super::proc::RAMPDECK, args, cols, rows, env, cwd)
    }

    /// Like [`Term::start`] for any program (`ssh`, say).
    pub fn start_program(
        program: &str,
        args: &[&str],
        cols: u16,
        rows: u16,
        env: &[(&str, &str)],
        cwd: &Path,
    ) -> Term {
        let pty = native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        cmd.cwd(cwd);
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("NO_COLOR");
        cmd.env_remove("RAMPDECK_TEST_PANIC_AFTER_FIRST_FRAME");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair
            .slave
            .spawn_command(cmd)
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("reader");
        let writer = pair.master.take_writer().expect("writer");
        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (p2, r2) = (parser.clone(), raw.clone());
        let (done_tx, reader_done) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    // Linux reports EIO once the last slave fd is closed.
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        p2.lock().unwrap().process(&buf[..n]);
                        r2.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                }
            }
            let _ = done_tx.send(());
        });
        Term {
            master: pair.master,
            child,
            writer,
            parser,
            raw,
            reader_done,
            exit: None,
        }
    }

    /// The screen's text, rows joined by newlines.
    pub fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Every byte the program wrote so far.
    pub fn raw(&self) -> Vec<u8> {
        self.raw.lock().unwrap().clone()
    }

    /// Resizes the terminal as a window manager (or `ssh`'s window-change
    /// request) does: the pty's size changes and the program gets SIGWINCH.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        // The emulator first, so what the program draws next lands on a
        // screen of the new size.
        self.parser
            .lock()
            .unwrap()
            .screen_mut()
            .set_size(rows, cols);
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("resize pty");
    }

    /// Types `bytes` as if at the keyboard ("\r" is Enter, " " is space).
    pub fn send(&mut self, bytes: &str) {
        self.writer
            .write_all(bytes.as_bytes())
            .expect("write to pty");
        self.writer.flush().expect("flush pty");
    }

    /// Waits until the screen contains `needle`; panics with the screen
    /// after `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        self.wait_until(&format!("{needle:?} on screen"), timeout, |s| {
            s.contains(needle)
        })
    }

    /// Waits until `ok(screen)` holds; panics with `what` and the screen
    /// after `timeout`.
    pub fn wait_until(&self, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out after {timeout:?} waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the child to exit and for its last output to be read;
    /// returns its exit code. Kills it and panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> u32 {
        if let Some(code) = self.exit {
            return code;
        }
        let deadline = Instant::now() + timeout;
        let code = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break status.exit_code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "rampdeck did not exit within {timeout:?}; screen:\n{}",
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader sees end of output once the slave side is closed.
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = self
            .reader_done
            .recv_timeout(left.max(Duration::from_secs(2)));
        self.exit = Some(code);
        code
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    /// The line discipline of the pty (master and slave share one on
    /// Linux): canonical mode and echo are what a shell needs back.
    pub fn termios_restored(&self) -> bool {
        let fd = self.master.as_raw_fd().expect("the master pty has an fd");
        // SAFETY: the fd belongs to `self.master`, open for `self`'s life.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let t = nix::sys::termios::tcgetattr(fd).expect("tcgetattr on the pty");
        let flags = t.local_flags;
        flags.contains(nix::sys::termios::LocalFlags::ICANON)
            && flags.contains(nix::sys::termios::LocalFlags::ECHO)
    }
}

impl Term {
    /// What a dropped SSH link does to the program: SIGHUP, then the
    /// terminal is gone. The child is left running (not killed on drop).
    pub fn hang_up(mut self) {
        if let Some(pid) = self.pid() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGHUP,
            );
        }
        self.exit = Some(u32::MAX);
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        // Never leave a rampdeck behind when a test fails half-way.
        if self.exit.is_none() && matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Where `needle` last occurs in `hay`.
pub fn last_index(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}
