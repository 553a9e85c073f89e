//! A `payledger` command, and `payledger serve` as a real process, for tests.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use payledger_testkit::TestDb;

pub fn payledger(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_payledger"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("PAYLEDGER_MASTER_KEY", payledger_testkit::TEST_MASTER_KEY_HEX)
        .env_remove("PAYLEDGER_MASTER_KEY_FILE")
        .output()
        .expect("run payledger");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `payledger serve` process; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    pub async fn start(db: &TestDb, env: &[(&str, &str)]) -> Server {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_payledger"));
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", db.url())
            .env("PAYLEDGER_MASTER_KEY", payledger_testkit::TEST_MASTER_KEY_HEX)
            .env_remove("PAYLEDGER_MASTER_KEY_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        let server = Server { child: command.spawn().unwrap(), base: format!("http://127.0.0.1:{port}") };
        let http = reqwest::Client::new();
        for _ in 0..400 {
            if let Ok(r) = http.get(format!("{}/readyz", server.base)).send().await {
                if r.status() == 200 {
                    return server;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("server never became ready");
    }

    pub fn kill9(&mut self) {
        Command::new("kill").args(["-KILL", &self.child.id().to_string()]).status().unwrap();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
