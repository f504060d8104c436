//! `periscope`: the viewer binary.

mod app;
mod config;
mod runtime;

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use periscope_dispatch::Chain;
use periscope_scene::Scene;
use periscope_server::{ByteQueue, Server};

use crate::config::Config;
use crate::runtime::Runtime;

/// A fast, scriptable remote viewer. Programs connect over WebSocket and stream
/// meshes, points, lines and more; see README.md.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Configuration file (default: ./config.toml, else the one beside the repository's target/).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (overrides server.host). Non-loopback addresses expose the viewer to the network.
    #[arg(long)]
    host: Option<IpAddr>,
    /// Port to listen on (overrides server.port; 0 picks a free port).
    #[arg(long)]
    port: Option<u16>,
    /// Run the server, dispatch and scene without a window.
    #[arg(long)]
    headless: bool,
    /// Log filter: error, warn, info, debug, trace, or a tracing filter like `periscope_server=debug`.
    #[arg(long)]
    log_level: Option<String>,
}

fn find_config(cli: &Cli) -> Option<PathBuf> {
    if let Some(p) = &cli.config {
        return Some(p.clone());
    }
    let local = PathBuf::from("config.toml");
    if local.is_file() {
        return Some(local);
    }
    // target/{debug,release}/periscope -> repository root
    let exe = std::env::current_exe().ok()?;
    let beside = exe.parent()?.parent()?.parent()?.join("config.toml");
    beside.is_file().then_some(beside)
}

fn display_available() -> bool {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

fn init_logging(level: Option<&str>) {
    let filter = match level {
        Some(l) => tracing_subscriber::EnvFilter::new(l),
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,wgpu_core=warn,wgpu_hal=warn,naga=warn")),
    };
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn run_headless(mut rt: Runtime, shutdown: &AtomicBool) {
    tracing::info!("running headless (no window)");
    while !shutdown.load(Ordering::SeqCst) {
        rt.pump_blocking(Duration::from_millis(100), Duration::from_millis(50));
        rt.poll_scripts();
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_level.as_deref());

    let (mut config, base) = match find_config(&cli) {
        Some(path) => {
            let c = Config::load(&path)?;
            tracing::info!(path = %path.display(), "configuration loaded");
            let base =
                path.parent().map(PathBuf::from).filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| ".".into());
            (c, base)
        }
        None => {
            tracing::info!("no config.toml found; using built-in defaults");
            (Config::default(), PathBuf::from("."))
        }
    };
    if let Some(h) = cli.host {
        config.server.host = h;
    }
    if let Some(p) = cli.port {
        config.server.port = p;
    }

    // The chain (and its scripts) is ready before the first client can connect.
    let mut scene = Scene::new(config.scene.clone());
    let chain = Chain::from_config(&config.dispatch, &config.scripts, &config.plugins, &base, &mut scene)?;
    tracing::info!(chain = ?chain.stage_names(), "dispatch chain ready");

    let queue = Arc::new(ByteQueue::new(config.server.queue_bytes, config.server.queue_messages));
    let mut server = Server::start(config.server.clone(), Arc::clone(&queue))?;
    let listen = server.local_addr();
    // A machine-readable line for scripts and tests (the port matters when 0 was asked for).
    println!("periscope listening on ws://{listen}");
    std::io::stdout().flush().ok();

    let shutdown = Arc::new(AtomicBool::new(false));
    {
        let flag = Arc::clone(&shutdown);
        ctrlc::set_handler(move || {
            tracing::info!("interrupted; shutting down");
            flag.store(true, Ordering::SeqCst);
        })
        .context("cannot install the Ctrl-C handler")?;
    }

    let rt = Runtime::new(scene, chain, Arc::clone(&queue), server.handle());
    let want_window = !(cli.headless || config.viewer.headless);
    if want_window && !display_available() {
        tracing::warn!("no display (DISPLAY and WAYLAND_DISPLAY are unset): running headless");
    }
    if want_window && display_available() {
        if let Err(e) = app::run(rt, config.viewer.clone(), listen, Arc::clone(&shutdown)) {
            // The runtime moved into the failed window; the server keeps its
            // clients' data only until we exit, so say so clearly.
            anyhow::bail!("cannot open the window: {e} (use --headless to run without one)");
        }
    } else {
        run_headless(rt, &shutdown);
    }

    queue.close();
    server.shutdown();
    Ok(())
}
