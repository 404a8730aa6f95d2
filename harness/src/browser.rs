//! Browsers as data plus a lifecycle.
//!
//! A [`Product`] is a plain record: how to find the browser and its WebDriver driver, how to
//! install them, and the capabilities (flags, prefs) that make it usable headless on loopback.
//! Adding a browser is adding a record. A [`BrowserSession`] is one running driver + browser +
//! WebDriver session with its own temporary profile; the [`BrowserPool`] keeps idle sessions
//! per product so runs reuse them (a fresh page per run) and relaunches a session that died.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Map, Value};
use tempfile::TempDir;
use tokio::process::Command;

use crate::process::{log_len, log_since, note_in_log, ChildGuard};

/// How long a driver may take to accept a new session (Firefox needs 2-3 s here).
const SESSION_START_TIMEOUT: Duration = Duration::from_secs(45);
/// Any single WebDriver command.
const WEBDRIVER_COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// A browser product: discovery, installation hint and launch settings.
#[derive(Debug)]
pub struct Product {
    /// The implementation name used in the matrix: `chrome`, `firefox`.
    pub name: &'static str,
    pub display_name: &'static str,
    /// Environment variable that overrides the browser binary.
    pub binary_env: &'static str,
    /// Executable names searched on PATH, in order.
    pub binary_names: &'static [&'static str],
    pub driver_env: &'static str,
    pub driver_names: &'static [&'static str],
    /// The command that installs what is missing on Debian 12.
    pub install_hint: &'static str,
    /// Builds the W3C capabilities for a session.
    pub capabilities:
        fn(binary: Option<&Path>, profile: &Path, launch: Launch) -> Map<String, Value>,
    /// Arguments that make the driver listen on `port`.
    pub driver_args: fn(port: u16) -> Vec<String>,
}

/// Chromium flags that work headless here (../shared/ENVIRONMENT.md). mDNS host-candidate
/// obfuscation is off so candidates carry raw addresses every peer can reach.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    // Received audio plays audibly without a user gesture: Chromium measures a received
    // track's audio energy after the playout volume, so a muted element reads silence.
    "--autoplay-policy=no-user-gesture-required",
];

/// Puts `binary` into the vendor options object at `key`, when known locally. A remote
/// endpoint without a local binary uses its own default.
fn with_binary(mut caps: Value, key: &str, binary: Option<&Path>) -> Map<String, Value> {
    if let (Some(binary), Some(options)) =
        (binary, caps.get_mut(key).and_then(Value::as_object_mut))
    {
        options.insert("binary".into(), json!(binary));
    }
    caps.as_object().cloned().unwrap_or_default()
}

/// Launch settings that differ between runs; a session is reused only for the same settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Launch {
    /// Host candidates as mDNS `.local` names (the browsers' own default). Off by default:
    /// scenarios see raw loopback addresses unless they ask (`create_peer_connection:
    /// { mdns: true }`).
    pub mdns: bool,
}

fn chrome_capabilities(
    binary: Option<&Path>,
    profile: &Path,
    launch: Launch,
) -> Map<String, Value> {
    // With mDNS, Chromium still shows raw IPs to a page that holds camera / microphone
    // permission (blink's FilteringNetworkManager asks media::MediaPermission), and
    // --use-fake-ui-for-media-stream grants it: an mDNS launch drops both flags (such a run
    // cannot use getUserMedia).
    let mdns_off = |f: &&&str| {
        !(launch.mdns
            && (f.contains("WebRtcHideLocalIpsWithMdns")
                || f.contains("use-fake-ui-for-media-stream")))
    };
    let mut args: Vec<String> = CHROMIUM_FLAGS
        .iter()
        .filter(mdns_off)
        .map(|s| s.to_string())
        .collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let caps = json!({
        "browserName": "chrome",
        "pageLoadStrategy": "none",
        "goog:chromeOptions": { "args": args },
    });
    with_binary(caps, "goog:chromeOptions", binary)
}

fn firefox_capabilities(
    binary: Option<&Path>,
    _profile: &Path,
    launch: Launch,
) -> Map<String, Value> {
    // The profile directory is made by geckodriver under TMPDIR, which the session points
    // at its own temporary directory.
    let caps = json!({
        "browserName": "firefox",
        "pageLoadStrategy": "none",
        "moz:firefoxOptions": {
            "args": ["-headless"],
            "prefs": {
                "media.navigator.streams.fake": true,
                "media.navigator.permission.disabled": true,
                "media.peerconnection.ice.obfuscate_host_addresses": launch.mdns,
                "media.peerconnection.ice.loopback": true,
                "app.update.enabled": false,
                "browser.shell.checkDefaultBrowser": false,
                "datareporting.policy.dataSubmissionEnabled": false,
                "toolkit.telemetry.reportingpolicy.firstRun": false,
                "network.captive-portal-service.enabled": false,
                "network.connectivity-service.enabled": false,
            }
        },
    });
    with_binary(caps, "moz:firefoxOptions", binary)
}

pub static CHROME: Product = Product {
    name: "chrome",
    display_name: "Chromium",
    binary_env: "CHROMIUM_BINARY",
    binary_names: &["chromium", "chromium-browser", "google-chrome", "chrome"],
    driver_env: "CHROMEDRIVER",
    driver_names: &["chromedriver"],
    install_hint: "apt-get install -y chromium chromium-driver (or run `bash ci/setup`)",
    capabilities: chrome_capabilities,
    driver_args: |port| vec![format!("--port={port}")],
};

pub static FIREFOX: Product = Product {
    name: "firefox",
    display_name: "Firefox",
    binary_env: "FIREFOX_BINARY",
    binary_names: &["firefox-esr", "firefox"],
    driver_env: "GECKODRIVER",
    driver_names: &["geckodriver"],
    install_hint: "apt-get install -y firefox-esr && cargo install geckodriver --locked (or run `bash ci/setup`)",
    capabilities: firefox_capabilities,
    driver_args: |port| {
        vec![
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
        ]
    },
};

/// Every browser product the harness knows.
pub static PRODUCTS: &[&Product] = &[&CHROME, &FIREFOX];

/// Resolved paths of a product's browser and driver. `None` when a remote WebDriver endpoint
/// (`--webdriver-url`) stands in for a browser that is not installed here.
#[derive(Debug, Clone)]
pub struct Installation {
    pub product: &'static Product,
    pub binary: Option<PathBuf>,
    pub driver: Option<PathBuf>,
}

/// Finds `name` as given (a path) or on PATH, then in `~/.cargo/bin` (where
/// `cargo install geckodriver` puts it).
fn find_executable(names: &[&str], env: &str) -> Result<PathBuf, String> {
    if let Some(value) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(value);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(format!(
                "{env}={} is not an executable file",
                path.display()
            ))
        };
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    for name in names {
        for dir in &dirs {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(format!("none of {} found on PATH", names.join(", ")))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

impl Product {
    /// Locates the browser and driver, or says what to install.
    pub fn locate(&'static self) -> Result<Installation, String> {
        let binary = find_executable(self.binary_names, self.binary_env).map_err(|e| {
            format!(
                "{} not found ({e}; set {} to override). Install it: {}",
                self.display_name, self.binary_env, self.install_hint
            )
        })?;
        let driver = find_executable(self.driver_names, self.driver_env).map_err(|e| {
            format!(
                "the WebDriver driver for {} not found ({e}; set {} to override). Install it: {}",
                self.display_name, self.driver_env, self.install_hint
            )
        })?;
        Ok(Installation {
            product: self,
            binary: Some(binary),
            driver: Some(driver),
        })
    }
}

/// Why a driver that exited before its session started failed, and how to fix it: the last
/// lines of its log (where a missing library or a version mismatch shows), the override
/// variable and the install command.
fn driver_failed(exit: &str, product: &Product, log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    format!(
        "{exit} before a session started{}; see {}. Fix: check that the driver runs and matches \
         {} (`<driver> --version`), set {} to another driver, or reinstall: {}",
        if tail.is_empty() {
            String::new()
        } else {
            format!(" (its output: {tail})")
        },
        log.display(),
        product.display_name,
        product.driver_env,
        product.install_hint
    )
}

/// A port that was free a moment ago.
fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// How many ports a driver is started on before its launch fails (see
/// [`BrowserSession::launch_on_ports`]).
pub const DRIVER_PORT_ATTEMPTS: usize = 3;

/// Why no session started on one driver.
enum SessionStart {
    /// The driver could not listen on its port, or the session that answered there was not
    /// the driver's: another process has the port; try another.
    PortTaken(String),
    Failed(String),
}

impl SessionStart {
    fn into_message(self) -> String {
        match self {
            SessionStart::PortTaken(why) => format!(
                "{why} (tried {DRIVER_PORT_ATTEMPTS} ports; is something taking ports on 127.0.0.1?)"
            ),
            SessionStart::Failed(message) => message,
        }
    }
}

/// True when a driver's output says its port was taken (chromedriver: "bind() failed: Address
/// already in use ... IPv4 port not available"; geckodriver: "Address in use").
fn says_port_taken(output: &str) -> bool {
    let output = output.to_ascii_lowercase();
    output.contains("address already in use")
        || output.contains("address in use")
        || output.contains("port not available")
}

/// Resolves when `driver` exits; never without a driver (a remote WebDriver endpoint).
async fn driver_exit(driver: Option<&mut ChildGuard>) -> String {
    match driver {
        Some(d) => d.wait_exit().await,
        None => std::future::pending().await,
    }
}

/// Opens a WebDriver session at `url`, retrying while the connection is refused (the driver
/// needs a moment to listen) until `deadline`. A driver that exits meanwhile ends the wait at
/// once, with its output quoted.
async fn connect_session(
    url: &str,
    caps: &Map<String, Value>,
    mut driver: Option<&mut ChildGuard>,
    deadline: tokio::time::Instant,
    product: &Product,
    log: &Path,
    log_start: u64,
) -> Result<Client, SessionStart> {
    enum Step {
        Answered(
            Result<Result<Client, fantoccini::error::NewSessionError>, tokio::time::error::Elapsed>,
        ),
        DriverExited(String),
    }
    loop {
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps.clone());
        let connect = builder.connect(url);
        let step = tokio::select! {
            answer = tokio::time::timeout_at(deadline, connect) => Step::Answered(answer),
            exit = driver_exit(driver.as_deref_mut()) => Step::DriverExited(exit),
        };
        let exit = match step {
            Step::DriverExited(exit) => exit,
            Step::Answered(Ok(Ok(client))) => {
                if let Some(exit) = driver.as_deref_mut().and_then(ChildGuard::exited) {
                    // Our driver is gone, so whoever answered on its port is another process.
                    let _ = tokio::time::timeout(Duration::from_secs(5), client.close()).await;
                    return Err(SessionStart::PortTaken(format!(
                        "{exit} and the session at {url} came from another process"
                    )));
                }
                return Ok(client);
            }
            Step::Answered(Ok(Err(e))) => {
                if let Some(exit) = driver.as_deref_mut().and_then(ChildGuard::exited) {
                    exit
                } else {
                    let refused = matches!(
                        e,
                        fantoccini::error::NewSessionError::Failed(_)
                            | fantoccini::error::NewSessionError::FailedC(_)
                    );
                    if !refused || tokio::time::Instant::now() >= deadline {
                        return Err(SessionStart::Failed(format!(
                            "cannot start a {} session at {url}: {e}",
                            product.display_name
                        )));
                    }
                    // Not listening yet: ask again shortly (bounded by the deadline; an exit
                    // of the driver ends the wait at once).
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                        _ = driver_exit(driver.as_deref_mut()) => {}
                    }
                    continue;
                }
            }
            Step::Answered(Err(_)) => {
                return Err(SessionStart::Failed(format!(
                    "no {} session within {}s (driver at {url}; see {})",
                    product.display_name,
                    SESSION_START_TIMEOUT.as_secs(),
                    log.display()
                )))
            }
        };
        // The driver exited before a session started: quote why.
        if let Some(d) = driver.as_deref_mut() {
            d.log_written().await;
        }
        if says_port_taken(&log_since(log, log_start)) {
            return Err(SessionStart::PortTaken(format!("{exit}: {url} was taken")));
        }
        return Err(SessionStart::Failed(driver_failed(&exit, product, log)));
    }
}

/// One driver + browser + WebDriver session with its own temporary profile.
pub struct BrowserSession {
    pub product: &'static Product,
    client: Client,
    /// The exact browser version from the session capabilities.
    pub version: String,
    /// Driver name and version, from the session capabilities.
    pub driver_version: String,
    /// The launch settings this session was started with.
    pub launch: Launch,
    // Field order matters: the driver is killed before the profile directory is removed.
    driver: Option<ChildGuard>,
    _profile: TempDir,
}

impl BrowserSession {
    /// Starts the driver on a free port and opens a session. `log` receives the driver's output
    /// (which includes the browser's stderr).
    pub async fn launch(
        installation: &Installation,
        webdriver_url: Option<&str>,
        log: &Path,
        launch: Launch,
    ) -> Result<Self, String> {
        Self::launch_on_ports(installation, webdriver_url, log, launch, &mut free_port).await
    }

    /// [`launch`](Self::launch) with the driver's ports taken from `ports`. A port picked free
    /// can be taken by another process before the driver binds it: then the driver exits
    /// ("address in use") or the session that answers is not ours, and the driver is started
    /// again on the next port, up to [`DRIVER_PORT_ATTEMPTS`] times (each retry is noted in
    /// `log`). Tests pass a port that is already taken.
    pub async fn launch_on_ports(
        installation: &Installation,
        webdriver_url: Option<&str>,
        log: &Path,
        launch: Launch,
        ports: &mut (dyn FnMut() -> std::io::Result<u16> + Send),
    ) -> Result<Self, String> {
        let product = installation.product;
        let profile = tempfile::Builder::new()
            .prefix(&format!("interop-{}-", product.name))
            .tempdir()
            .map_err(|e| format!("cannot create a profile directory: {e}"))?;
        let caps = (product.capabilities)(
            installation.binary.as_deref(),
            &profile.path().join("profile"),
            launch,
        );
        let deadline = tokio::time::Instant::now() + SESSION_START_TIMEOUT;
        let (driver, client) = match (webdriver_url, &installation.driver) {
            (Some(url), _) => {
                let client = connect_session(url, &caps, None, deadline, product, log, 0)
                    .await
                    .map_err(SessionStart::into_message)?;
                (None, client)
            }
            (None, None) => {
                return Err(format!(
                    "no driver for {} and no --webdriver-url",
                    product.display_name
                ))
            }
            (None, Some(driver_path)) => {
                let mut attempt = 1;
                loop {
                    let port = ports().map_err(|e| format!("no free port for the driver: {e}"))?;
                    let log_start = log_len(log);
                    let mut cmd = Command::new(driver_path);
                    cmd.args((product.driver_args)(port));
                    cmd.env("TMPDIR", profile.path());
                    let mut guard =
                        ChildGuard::spawn(cmd, &driver_path.display().to_string(), Some(log))
                            .map_err(|e| format!("cannot start {}: {e}", driver_path.display()))?;
                    let url = format!("http://127.0.0.1:{port}");
                    let started = connect_session(
                        &url,
                        &caps,
                        Some(&mut guard),
                        deadline,
                        product,
                        log,
                        log_start,
                    )
                    .await;
                    match started {
                        Ok(client) => break (Some(guard), client),
                        Err(SessionStart::PortTaken(why)) if attempt < DRIVER_PORT_ATTEMPTS => {
                            drop(guard);
                            note_in_log(
                                log,
                                &format!(
                                    "interop: {why}; starting the driver again on another port"
                                ),
                            );
                            attempt += 1;
                        }
                        Err(e) => return Err(e.into_message()),
                    }
                }
            }
        };
        let caps = client.capabilities().cloned().unwrap_or_default();
        let version = caps
            .get("browserVersion")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string();
        let driver_version = caps
            .get("chrome")
            .and_then(|c| c.get("chromedriverVersion"))
            .and_then(Value::as_str)
            .map(|v| format!("chromedriver {}", v.split_whitespace().next().unwrap_or(v)))
            .or_else(|| {
                caps.get("moz:geckodriverVersion")
                    .and_then(Value::as_str)
                    .map(|v| format!("geckodriver {v}"))
            })
            .unwrap_or_else(|| "driver unknown".to_string());
        Ok(BrowserSession {
            product,
            client,
            version,
            driver_version,
            launch,
            driver,
            _profile: profile,
        })
    }

    /// Loads `url` in the session's window.
    pub async fn open(&self, url: &str) -> Result<(), String> {
        match tokio::time::timeout(WEBDRIVER_COMMAND_TIMEOUT, self.client.goto(url)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!(
                "{} could not load the peer page: {e}",
                self.product.display_name
            )),
            Err(_) => Err(format!(
                "{} did not load the peer page within {}s",
                self.product.display_name,
                WEBDRIVER_COMMAND_TIMEOUT.as_secs()
            )),
        }
    }

    /// Runs `script` in the loaded page (WebDriver "Execute Async Script": the script's last
    /// argument is the callback it calls with its result), under the WebDriver command timeout.
    /// For tests of the page's own functions (the conformance kit's pattern and SHA-256).
    pub async fn execute_async(&self, script: &str) -> Result<Value, String> {
        match tokio::time::timeout(
            WEBDRIVER_COMMAND_TIMEOUT,
            self.client.execute_async(script, Vec::new()),
        )
        .await
        {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(format!("{}: script failed: {e}", self.product.display_name)),
            Err(_) => Err(format!(
                "{}: script did not finish within {}s",
                self.product.display_name,
                WEBDRIVER_COMMAND_TIMEOUT.as_secs()
            )),
        }
    }

    /// Ends the WebDriver session, then kills the driver and browser.
    pub async fn shutdown(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client.clone().close()).await;
        self.driver.take();
    }
}

/// Idle sessions per product, reused across runs (unless reuse is off: then every run gets
/// a new session, which is how the cost of reuse is measured). A session goes back idle with
/// its last page still loaded: that page closed its peer connections when the harness closed
/// its control connection, and the next run's page replaces it; a session that no longer
/// loads a page is replaced then (see the runner's `open_page`).
#[derive(Default)]
pub struct BrowserPool {
    idle: HashMap<&'static str, Vec<BrowserSession>>,
    reuse: bool,
}

impl BrowserPool {
    pub fn new(reuse: bool) -> Self {
        BrowserPool {
            idle: HashMap::new(),
            reuse,
        }
    }

    /// An idle session of `product` started with the same launch settings, if any.
    pub fn take_idle(
        &mut self,
        product: &'static Product,
        launch: Launch,
    ) -> Option<BrowserSession> {
        let idle = self.idle.get_mut(product.name)?;
        let i = idle.iter().position(|s| s.launch == launch)?;
        Some(idle.remove(i))
    }

    /// Returns a session after a run: kept for the next run if reuse is on, ended otherwise.
    pub async fn release(&mut self, session: BrowserSession) {
        if self.reuse {
            self.idle
                .entry(session.product.name)
                .or_default()
                .push(session);
        } else {
            session.shutdown().await;
        }
    }

    /// Ends every idle session, all at once.
    pub async fn shutdown(&mut self) {
        let sessions = self.idle.drain().flat_map(|(_, s)| s);
        futures_util::future::join_all(sessions.map(BrowserSession::shutdown)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_saying_their_port_is_taken_are_recognised() {
        // chromedriver 156 and geckodriver 0.36 on a port another process holds.
        assert!(says_port_taken(
            "[1764.1][SEVERE]: bind() failed: Address already in use (98)\nIPv4 port not available. Exiting..."
        ));
        assert!(says_port_taken(
            "geckodriver: error: Address already in use (os error 98)"
        ));
        assert!(!says_port_taken(
            "chromedriver: error while loading shared libraries: libnss3.so"
        ));
    }

    #[test]
    fn capabilities_carry_headless_flags_profile_and_binary_when_known() {
        let caps = (CHROME.capabilities)(
            Some(Path::new("/usr/bin/chromium")),
            Path::new("/tmp/p"),
            Launch::default(),
        );
        let options = &caps["goog:chromeOptions"];
        assert_eq!(options["binary"], "/usr/bin/chromium");
        let args: Vec<&str> = options["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(args.contains(&"--headless=new"));
        assert!(args.contains(&"--use-fake-device-for-media-stream"));
        assert!(args.contains(&"--user-data-dir=/tmp/p"));

        let caps = (FIREFOX.capabilities)(None, Path::new("/tmp/p"), Launch::default());
        let options = &caps["moz:firefoxOptions"];
        assert!(
            options.get("binary").is_none(),
            "a remote endpoint picks its own binary"
        );
        assert_eq!(options["prefs"]["media.navigator.streams.fake"], true);
        assert_eq!(options["args"][0], "-headless");
    }

    #[test]
    fn a_missing_binary_names_the_override_and_the_install_command() {
        std::env::set_var("FIREFOX_BINARY", "/nonexistent/firefox");
        let err = FIREFOX.locate().unwrap_err();
        std::env::remove_var("FIREFOX_BINARY");
        assert!(
            err.contains("FIREFOX_BINARY=/nonexistent/firefox is not an executable file"),
            "{err}"
        );
        assert!(err.contains("apt-get install -y firefox-esr"), "{err}");
    }
}
