//! `periscope`: the viewer binary: command line, configuration, logging and
//! the headless loop around the [`periscope_viewer`] library.

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
use periscope_server::{ByteQueue, Event, Server};

use periscope_viewer::app;
use periscope_viewer::config::{self, Config};
use periscope_viewer::export::{ExportCamera, ExportRequest};
use periscope_viewer::replay::Replay;
use periscope_viewer::runtime::{OffscreenShooter, Runtime, RuntimeConfig};
use periscope_viewer::screenshot::{self, HeadlessRenderer, ScreenshotOnExit};

/// A fast, scriptable remote viewer. Programs connect over WebSocket and stream
/// meshes, points, lines and more; see README.md.
#[derive(Parser, Debug)]
#[command(name = "periscope", version, about)]
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
    /// Run headless; once clients have connected, sent their data and all disconnected,
    /// render the scene offscreen to this PNG and exit.
    #[arg(long, value_name = "PNG")]
    screenshot: Option<PathBuf>,
    /// Size of the --screenshot image (default: [viewer] screenshot_width x screenshot_height).
    #[arg(long, value_name = "WxH", value_parser = screenshot::parse_size)]
    screenshot_size: Option<(u32, u32)>,
    /// Scene frame the --screenshot shows (default: the current frame).
    #[arg(long, value_name = "N")]
    screenshot_frame: Option<i64>,
    /// Run headless; once clients are done (or FILE is replayed), render the scene's
    /// frames into this video (.mp4, .gif, or .png for a PNG sequence) and exit.
    #[arg(long, value_name = "FILE")]
    video: Option<PathBuf>,
    /// Size of the --video (default: [viewer] video_width x video_height; MP4 rounds to even).
    #[arg(long, value_name = "WxH", value_parser = screenshot::parse_size)]
    video_size: Option<(u32, u32)>,
    /// Frames per second of the --video (default: [viewer] video_fps).
    #[arg(long, value_name = "FPS")]
    fps: Option<f64>,
    /// Scene frames of the --video, START:STOP[:STEP] (stop exclusive; default: all).
    #[arg(long, value_name = "A:B")]
    frames: Option<String>,
    /// Camera path (TOML: keyframes, [orbit] or [follow]; see docs/video.md) for the --video.
    #[arg(long, value_name = "TOML", conflicts_with = "orbit")]
    camera_path: Option<PathBuf>,
    /// Turn around the scene once during the --video (default: the current camera).
    #[arg(long)]
    orbit: bool,
    /// A recording or saved scene (.psr) to open: replayed through the dispatch chain.
    #[arg(value_name = "FILE", conflicts_with = "replay")]
    file: Option<PathBuf>,
    /// Same as FILE.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Replay at the recorded pace (times --speed) instead of as fast as possible.
    #[arg(long)]
    realtime: bool,
    /// Replay speed with --realtime (2 = twice as fast).
    #[arg(long, default_value_t = 1.0)]
    speed: f32,
    /// Record every accepted message to this file (see docs/recording.md).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Open a window that is a view of the hub at this URL (ws://host:port or
    /// wss://host:port) instead of serving a scene; it reconnects by itself.
    #[arg(long, value_name = "URL", conflicts_with_all = ["headless", "screenshot", "video", "file", "replay", "record"])]
    connect: Option<String>,
    /// The hub's token for --connect (default: $PERISCOPE_TOKEN).
    #[arg(long, requires = "connect")]
    token: Option<String>,
    /// With --connect to a wss:// hub: a PEM certificate to trust (e.g. the hub's self-signed one).
    #[arg(long, value_name = "PEM", requires = "connect")]
    ca_cert: Option<PathBuf>,
}

/// `--connect`: a window that views a remote hub.
fn run_view(cli: &Cli, config: &Config, url: &str) -> anyhow::Result<()> {
    if !display_available() {
        anyhow::bail!("--connect opens a window, and there is no display (DISPLAY and WAYLAND_DISPLAY are unset)");
    }
    let token = cli.token.clone().or_else(|| std::env::var("PERISCOPE_TOKEN").ok().filter(|t| !t.is_empty()));
    let opts = periscope_viewer::view_link::LinkOptions {
        url: url.to_owned(),
        token,
        name: format!("view@{}", hostname()),
        ca_cert: cli.ca_cert.clone(),
    };
    let link = periscope_viewer::view_link::ViewLink::start(opts).context("cannot start the view link thread")?;
    let rt = Runtime::view(link, RuntimeConfig::from_config(config));
    let shutdown = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&shutdown);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).context("cannot install the Ctrl-C handler")?;
    let unbound = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    app::run(rt, config.viewer.clone(), unbound, shutdown, None)
        .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|s| s.trim().to_owned()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "here".into())
}

fn find_config(cli: &Cli) -> Option<PathBuf> {
    if let Some(p) = &cli.config {
        return Some(p.clone());
    }
    let local = PathBuf::from("config.toml");
    if local.is_file() {
        return Some(local);
    }
    // target/{debug,release}/periscope -> repository root (a development build
    // only: an installed binary, e.g. a venv's bin/periscope, uses the defaults).
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?;
    let target = profile_dir.parent()?;
    if target.file_name()? != "target" {
        return None;
    }
    let beside = target.parent()?.join("config.toml");
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

/// The network clients that came have all gone and their messages are handled.
fn clients_done(rt: &Runtime) -> bool {
    let mut clients = rt.scene.clients().filter(|c| periscope_scene::ClientKind::is_network(c.id)).peekable();
    clients.peek().is_some() && clients.all(|c| !c.connected) && rt.queue().is_empty()
}

/// What `--headless` does once the clients are done (or the replay finished).
enum OnExit {
    Screenshot(ScreenshotOnExit),
    Video(Box<ExportRequest>),
}

/// Time per turn of the headless loop spent rendering video frames (at least
/// one): short, so a client's query waits at most about this plus one frame
/// while exports run (docs/video.md, *Cost*).
const HEADLESS_EXPORT_BUDGET: Duration = Duration::from_millis(20);

fn run_headless(
    mut rt: Runtime,
    shutdown: &AtomicBool,
    viewer: &config::ViewerSection,
    on_exit: Option<OnExit>,
    mut replay: Option<Replay>,
) -> anyhow::Result<()> {
    tracing::info!("running headless (no window)");
    let mut video_queued = false;
    let mut renderer = HeadlessRenderer::new(viewer.render_options());
    let size = (viewer.screenshot_width, viewer.screenshot_height);
    let mut replay_done = false;
    let budget = Duration::from_millis(viewer.drain_budget_ms);
    let mut wait = Duration::from_millis(100);
    while !shutdown.load(Ordering::SeqCst) {
        // Idle: wait for a message (up to 100 ms, so Ctrl-C and replays are seen),
        // or less when something is due (a decoded image, a throttled camera).
        let mut shooter = OffscreenShooter { renderer: &mut renderer, size };
        let step = rt.step(replay.as_mut(), wait, budget, &mut shooter);
        wait = if step.more_queued {
            Duration::ZERO
        } else {
            step.again_in.map_or(Duration::from_millis(100), |a| a.min(Duration::from_millis(100)))
        };
        if let Some(r) = replay.as_ref()
            && r.finished()
            && !replay_done
        {
            replay_done = true;
            tracing::info!(path = %r.path.display(), nodes = rt.scene.nodes().count(), "replay finished");
        }
        let done = !rt.skins_pending()
            && if replay.is_some() { replay_done && rt.queue().is_empty() } else { clients_done(&rt) };
        if let Some(OnExit::Video(req)) = &on_exit
            && done
        {
            if !video_queued {
                video_queued = true;
                rt.queue_export((**req).clone()).map_err(|e| anyhow::anyhow!(e))?;
                wait = Duration::ZERO;
            }
            if let Some(result) = rt.last_export.take() {
                rt.stop_recording();
                let done = result.map_err(|e| anyhow::anyhow!("cannot export the video: {e}"))?;
                println!("periscope wrote {} ({} frames)", done.written.path.display(), done.written.frames);
                return Ok(());
            }
        }
        if let Some(OnExit::Screenshot(shot)) = &on_exit
            && done
        {
            let view = periscope_render::SceneView::at(&rt.scene, shot.frame);
            let frame = view.frame;
            let image = renderer.render(view, shot.width, shot.height, None, true);
            let image = image.map_err(|e| anyhow::anyhow!("cannot render the screenshot: {e}"))?;
            image.save_png(&shot.path)?;
            tracing::info!(path = %shot.path.display(), frame, "screenshot written; exiting");
            println!("periscope wrote {}", shot.path.display());
            rt.stop_recording();
            return Ok(());
        }
    }
    rt.stop_recording();
    Ok(())
}

/// The `--video` export, checked before anything starts.
fn video_request(cli: &Cli, viewer: &config::ViewerSection, path: &std::path::Path) -> anyhow::Result<ExportRequest> {
    periscope_video::VideoFormat::from_path(path)?;
    let fps = cli.fps.unwrap_or(viewer.video_fps);
    periscope_video::check_fps(fps).map_err(|e| anyhow::anyhow!("--fps: {e}"))?;
    let camera = match (&cli.camera_path, cli.orbit) {
        (Some(file), _) => ExportCamera::Path(periscope_video::CameraPath::load(file)?),
        (None, true) => ExportCamera::Path(periscope_video::CameraPath::orbit()),
        (None, false) => ExportCamera::Current,
    };
    let (width, height) = cli.video_size.unwrap_or((viewer.video_width, viewer.video_height));
    let req = ExportRequest {
        reply_to: None,
        path: path.to_owned(),
        fps,
        frames: cli
            .frames
            .as_deref()
            .map(periscope_viewer::export::parse_frames)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--frames: {e}"))?,
        width,
        height,
        camera,
        return_bytes: false,
    };
    // A size or name the format cannot take fails now, not after the replay.
    req.check().map_err(|e| anyhow::anyhow!("--video {}: {e}", path.display()))?;
    Ok(req)
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
    for p in [&mut config.server.tls_cert, &mut config.server.tls_key].into_iter().flatten() {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    }
    if config.viewer.export_dir.is_relative() {
        config.viewer.export_dir = base.join(&config.viewer.export_dir);
    }
    // The token may come from the environment rather than a file others can read.
    if config.server.token.as_deref().is_none_or(str::is_empty)
        && let Ok(t) = std::env::var("PERISCOPE_TOKEN")
        && !t.is_empty()
    {
        config.server.token = Some(t);
    }
    if let Some(url) = &cli.connect {
        return run_view(&cli, &config, url);
    }
    if let Some(h) = cli.host {
        config.server.host = h;
    }
    if let Some(p) = cli.port {
        config.server.port = p;
    }

    // The chain (and its scripts) is ready before the first client can connect.
    let fps = f64::from(config.viewer.playback_fps);
    if !periscope_scene::valid_fps(fps) {
        anyhow::bail!(
            "[viewer] playback_fps must be a finite number in [{}, {}], found {fps}",
            periscope_protocol::limits::MIN_PLAYBACK_FPS,
            periscope_protocol::limits::MAX_PLAYBACK_FPS
        );
    }
    let mut scene = Scene::new(config.scene.clone()).with_fps(fps);
    let models_dir = base.join(&config.smpl.models_dir);
    scene.set_body_models(Arc::new(periscope_smpl::ModelStore::new(models_dir)));
    let chain = Chain::from_config(&config.dispatch, &config.scripts, &config.plugins, &base, &mut scene)?;
    tracing::info!(chain = ?chain.stage_names(), "dispatch chain ready");

    // Clients take turns: a flooding client does not delay another's next message.
    let queue =
        Arc::new(ByteQueue::with_key(config.server.queue_bytes, config.server.queue_messages, Event::queue_key));
    let mut server = Server::start_with_web(config.server.clone(), Arc::clone(&queue), periscope_viewer::web_bundle())?;
    let listen = server.local_addr();
    // A machine-readable line for scripts and tests (the port matters when 0 was asked for).
    let tls = config.server.tls_cert.is_some();
    let mut lines = format!("periscope listening on {}://{listen}\n", if tls { "wss" } else { "ws" });
    if config.server.web {
        // The page's address: the web view on the same port (loopback for a
        // wildcard bind, which a browser cannot open).
        let mut page = listen;
        if page.ip().is_unspecified() {
            page.set_ip(if page.is_ipv4() { [127, 0, 0, 1].into() } else { std::net::Ipv6Addr::LOCALHOST.into() });
        }
        lines.push_str(&format!("open {}://{page}/\n", if tls { "https" } else { "http" }));
    }
    // One write, so a reader of the first line finds the second with it; a
    // closed stdout is no reason to stop serving.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(lines.as_bytes()).and_then(|()| stdout.flush());
    drop(stdout);

    let shutdown = Arc::new(AtomicBool::new(false));
    {
        let flag = Arc::clone(&shutdown);
        ctrlc::set_handler(move || {
            tracing::info!("interrupted; shutting down");
            flag.store(true, Ordering::SeqCst);
        })
        .context("cannot install the Ctrl-C handler")?;
    }

    // Without a window (none asked for, or no display), export frames for a
    // little longer per turn (one frame of each running export in turn; other
    // messages are handled between turns).
    let headless = cli.headless
        || config.viewer.headless
        || cli.screenshot.is_some()
        || cli.video.is_some()
        || !display_available();
    let export_budget = if headless { HEADLESS_EXPORT_BUDGET } else { Duration::ZERO };
    let rt_config = RuntimeConfig { export_budget, ..RuntimeConfig::from_config(&config) };
    let mut rt = Runtime::new(scene, chain, Arc::clone(&queue), server.handle(), rt_config);
    let record_to = cli.record.clone().or_else(|| {
        let p = &config.recording.path;
        (!p.as_os_str().is_empty()).then(|| base.join(p))
    });
    let replay_from = cli.file.as_ref().or(cli.replay.as_ref());
    // Recording truncates its file: never the one about to be replayed.
    if let (Some(rec), Some(from)) = (&record_to, replay_from)
        && periscope_viewer::replay::same_file(rec, from)
    {
        anyhow::bail!(
            "cannot replay {} and record to it at the same time (--record or [recording] path): \
             recording would overwrite it first; record to another file",
            from.display()
        );
    }
    if let Some(path) = record_to {
        rt.start_recording(&path).map_err(|e| anyhow::anyhow!(e))?;
    }
    let replay = match replay_from {
        Some(path) => {
            let speed = if cli.realtime { cli.speed.max(0.01) } else { 0.0 };
            Some(Replay::open(path, speed).map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?)
        }
        None => None,
    };
    let on_exit = match (&cli.screenshot, &cli.video) {
        (Some(_), Some(_)) => anyhow::bail!("give --screenshot or --video, not both"),
        (Some(path), None) => {
            let (width, height) =
                cli.screenshot_size.unwrap_or((config.viewer.screenshot_width, config.viewer.screenshot_height));
            Some(OnExit::Screenshot(ScreenshotOnExit {
                path: path.clone(),
                width,
                height,
                frame: cli.screenshot_frame,
            }))
        }
        (None, Some(path)) => Some(OnExit::Video(Box::new(video_request(&cli, &config.viewer, path)?))),
        (None, None) => None,
    };
    let want_window = !(cli.headless || config.viewer.headless || on_exit.is_some());
    if want_window && !display_available() {
        tracing::warn!("no display (DISPLAY and WAYLAND_DISPLAY are unset): running headless");
    }
    if want_window && display_available() {
        if let Err(e) = app::run(rt, config.viewer.clone(), listen, Arc::clone(&shutdown), replay) {
            // The runtime moved into the failed window; the server keeps its
            // clients' data only until we exit, so say so clearly.
            anyhow::bail!("cannot open the window: {e} (use --headless to run without one)");
        }
        queue.close();
        server.shutdown();
        return Ok(());
    }
    let result = run_headless(rt, &shutdown, &config.viewer, on_exit, replay);
    queue.close();
    server.shutdown();
    result
}
