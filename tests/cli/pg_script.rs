//! `scripts/pg.sh with`: the throwaway PostgreSQL it starts is stopped however the wrapped
//! command ends (success, failure, SIGTERM, SIGINT), after the command itself has ended.
//! Each test uses a cluster of its own (PAYLEDGER_PG_HOME, a free port) and stops it on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A cluster home under target/tmp (the postgres user must reach it when run as root).
struct Cluster {
    home: PathBuf,
    port: u16,
}

impl Cluster {
    fn new(name: &str) -> Cluster {
        let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pg-script-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Cluster { home, port }
    }

    fn script(&self, args: &[&str]) -> Command {
        let mut command = Command::new(Path::new(ROOT).join("scripts/pg.sh"));
        command
            .args(args)
            .env_remove("DATABASE_URL")
            .env("PAYLEDGER_PG_HOME", &self.home)
            .env("PAYLEDGER_PG_PORT", self.port.to_string())
            .env("PAYLEDGER_DEV_MASTER_KEY_FILE", self.home.join("dev-master-key"))
            .env_remove("PAYLEDGER_MASTER_KEY")
            .env_remove("PAYLEDGER_MASTER_KEY_FILE");
        command
    }

    /// Is a postmaster running on this data directory?
    fn is_running(&self) -> bool {
        let Ok(pid_file) = std::fs::read_to_string(self.home.join("data/postmaster.pid")) else { return false };
        let pid = pid_file.lines().next().unwrap_or_default().trim().to_owned();
        Path::new("/proc").join(&pid).exists()
    }

    /// CMD run through `sh`, which first writes its pid to child.pid (for the cleanup).
    fn wrapped(&self, cmd: &[&str]) -> Vec<String> {
        let pid_file = self.home.join("child.pid");
        let mut args = vec!["with".to_owned(), "sh".to_owned(), "-c".to_owned()];
        args.push(format!("echo $$ > '{}'; exec \"$@\"", pid_file.display()));
        args.push("sh".to_owned());
        args.extend(cmd.iter().map(|a| a.to_string()));
        args
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.home.join(name)).unwrap_or_default()
    }

    fn wait_for_file(&self, name: &str, text: &str, child: &mut Child) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.file(name).contains(text) {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("pg.sh ended early: {status:?}");
            }
            assert!(Instant::now() < deadline, "{text:?} never appeared in {name}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Cluster {
    /// Whatever happened: the wrapped command (if it wrote child.pid) and the cluster go.
    fn drop(&mut self) {
        let pid = self.file("child.pid");
        if !pid.trim().is_empty() {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).stderr(Stdio::null()).status();
        }
        let _ = self.script(&["stop"]).output();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn wait_bounded(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("pg.sh did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// GET /readyz answers 200 (after migrations, with the signal handlers in place).
fn is_ready(addr: std::net::SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut answer = String::new();
    stream.write_all(b"GET /readyz HTTP/1.0\r\n\r\n").is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.0 200")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn a_failing_command_still_stops_the_cluster_and_keeps_its_status() {
    let cluster = Cluster::new("fail");
    let out: Output = cluster.script(&["with", "false"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(!cluster.is_running(), "postgres left running: {}", text(&out.stderr));
}

#[test]
fn dev_mode_and_the_url_only_with_the_local_cluster() {
    let cluster = Cluster::new("dev");
    let out =
        cluster.script(&["with", "--dev", "sh", "-c", "echo \"$DATABASE_URL $*\"; exit 3", "sh"]).output().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{}/payledger", cluster.port);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stdout).trim(), format!("{url} --dev"));
    assert!(text(&out.stderr).contains(&format!("PostgreSQL at {url}")), "{}", text(&out.stderr));
    assert!(!cluster.is_running());

    // Dev mode makes a master key once, readable by its owner only, and names it; a key
    // given is used instead.
    let show = ["with", "--dev", "sh", "-c", "echo \"$PAYLEDGER_MASTER_KEY_FILE\"; cat \"$PAYLEDGER_MASTER_KEY_FILE\""];
    let first = text(&cluster.script(&show).output().unwrap().stdout);
    let key_file = cluster.home.join("dev-master-key");
    let mut lines = first.lines();
    assert_eq!(lines.next(), Some(key_file.display().to_string().as_str()));
    let key = lines.next().unwrap().to_owned();
    assert!(key.len() == 64 && key.chars().all(|c| c.is_ascii_hexdigit()), "{first}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o077, 0, "readable by others");
    assert_eq!(text(&cluster.script(&show).output().unwrap().stdout), first, "the same key at the next start");
    let given = cluster
        .script(&["with", "--dev", "sh", "-c", "echo \"[$PAYLEDGER_MASTER_KEY_FILE]\""])
        .env("PAYLEDGER_MASTER_KEY", "given")
        .output()
        .unwrap();
    assert_eq!(text(&given.stdout).trim(), "[]", "a given key is not replaced");
    assert!(!cluster.is_running());

    // With DATABASE_URL set, it is used as is, without --dev, and nothing is started.
    let cluster = Cluster::new("dev-given");
    let given = "postgres://app:s3cret@db.example:5432/ledger";
    let out = cluster
        .script(&["with", "--dev", "sh", "-c", "echo \"$DATABASE_URL $*\"", "sh"])
        .env("DATABASE_URL", given)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).trim(), given, "no --dev appended");
    let err = text(&out.stderr);
    assert!(err.contains("app:***@db.example:5432/ledger") && !err.contains("s3cret"), "{err}");
    assert!(err.contains("no dev mode"), "{err}");
    assert!(!cluster.home.join("data").exists(), "a cluster was created");
}

/// The signal reaches the command, pg.sh waits for it (PostgreSQL is still up while the
/// command shuts down), then stops the cluster and exits with the command's status.
fn signal_is_passed_on(signal: &str) {
    let cluster = Cluster::new(&signal.to_lowercase());
    let log = cluster.home.join("child.log");
    let log = log.to_str().unwrap();
    let child_script = format!(
        "trap 'sleep 0.5; [ -f \"$PAYLEDGER_PG_HOME/data/postmaster.pid\" ] && echo pg-up-at-{signal} >> {log}; exit 7' {signal}
         echo ready >> {log}; while :; do sleep 0.1; done"
    );
    let args = cluster.wrapped(&["bash", "-c", &child_script]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = cluster.script(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    cluster.wait_for_file("child.log", "ready", &mut child);
    assert!(cluster.is_running());
    let status = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(7), "the command's own status");
    assert!(cluster.file("child.log").contains(&format!("pg-up-at-{signal}")), "the command got {signal} first");
    assert!(!cluster.is_running(), "postgres left running");
}

#[test]
fn sigterm_reaches_the_command_then_the_cluster_stops() {
    signal_is_passed_on("TERM");
}

#[test]
fn sigint_reaches_the_command_then_the_cluster_stops() {
    signal_is_passed_on("INT");
}

#[test]
fn sigquit_reaches_the_command_then_the_cluster_stops() {
    signal_is_passed_on("QUIT");
}

/// A signal pg.sh does not pass on (SIGUSR1) still ends the command before the cluster:
/// the command never outlives its database.
#[test]
fn another_signal_ends_the_command_and_the_cluster() {
    let cluster = Cluster::new("usr1");
    let log = cluster.home.join("child.log");
    let log = log.to_str().unwrap();
    let child_script =
        format!("trap 'echo term-at-exit >> {log}; exit 0' TERM; echo ready >> {log}; while :; do sleep 0.1; done");
    let args = cluster.wrapped(&["bash", "-c", &child_script]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = cluster.script(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    cluster.wait_for_file("child.log", "ready", &mut child);
    let status = Command::new("kill").args(["-USR1", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    wait_bounded(&mut child, Duration::from_secs(30));
    assert!(cluster.file("child.log").contains("term-at-exit"), "the command was ended");
    assert!(!cluster.is_running(), "postgres left running");
}

/// What `make run` runs: SIGTERM stops the server (its port is free again) and PostgreSQL.
#[test]
fn sigterm_to_pg_sh_stops_payledger_serve_and_the_cluster() {
    let cluster = Cluster::new("serve");
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let listen_arg = listen.to_string();
    let args = cluster.wrapped(&[env!("CARGO_BIN_EXE_payledger"), "serve", "--listen", &listen_arg]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = cluster.script(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !is_ready(listen) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("pg.sh ended early: {status:?}");
        }
        assert!(Instant::now() < deadline, "the server never became ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
    assert!(std::net::TcpStream::connect(listen).is_err(), "the server still listens");
    assert!(!cluster.is_running(), "postgres left running");
}
