//! The `profile` command-line tool (native targets only).

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    profile::cli::main();
}

#[cfg(target_arch = "wasm32")]
fn main() {}
