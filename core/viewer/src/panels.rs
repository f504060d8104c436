//! The hub's panels: its server and clients, its dispatch chain, the log, and
//! in a view of a remote hub the link's state and the hub's clients. They
//! read the [`Runtime`] (the scene panels are `periscope_ui::panels`).

use eframe::egui;

use crate::runtime::{Level, Runtime};

/// The server: address, clients with their rates and errors, totals.
pub fn server_panel(ui: &mut egui::Ui, rt: &mut Runtime, listen: std::net::SocketAddr) {
    rt.sample_rates();
    let Some(server) = rt.server() else {
        hub_panel(ui, rt);
        return;
    };
    let stats = server.stats();
    use std::sync::atomic::Ordering::Relaxed;
    egui::Grid::new("server").num_columns(2).show(ui, |ui| {
        ui.label("Listening");
        ui.monospace(format!("ws://{listen}"));
        ui.end_row();
        ui.label("Connections");
        ui.label(server.connections().to_string());
        ui.end_row();
        ui.label("Received");
        ui.label(format!(
            "{} messages, {:.1} MB",
            stats.messages.load(Relaxed),
            stats.bytes.load(Relaxed) as f64 / 1e6
        ));
        ui.end_row();
        ui.label("Rejected");
        ui.label(stats.rejected.load(Relaxed).to_string());
        ui.end_row();
        let (items, bytes) = rt.queue().len();
        ui.label("Queue");
        ui.label(format!("{items} messages, {:.1} MB", bytes as f64 / 1e6));
        ui.end_row();
        ui.label("Views");
        ui.label(format!("{} (snapshots sent: {})", rt.hub().len(), rt.hub().resyncs));
        ui.end_row();
    });
    ui.add_space(4.0);
    // Network clients only: plugins and replayed recordings have no traffic here.
    let clients: Vec<_> =
        rt.scene.clients().filter(|c| periscope_scene::ClientKind::is_network(c.id)).cloned().collect();
    if clients.is_empty() {
        ui.weak("No clients yet.");
    }
    egui::Grid::new("clients").num_columns(5).striped(true).show(ui, |ui| {
        if !clients.is_empty() {
            for h in ["Client", "Address", "msg/s", "MB/s", "Errors"] {
                ui.strong(h);
            }
            ui.end_row();
        }
        for c in clients {
            let s = rt.client_stats(c.id);
            let name = format!("{} #{}", c.name, c.id);
            if c.connected {
                ui.label(name)
            } else {
                ui.weak(format!("{name} (gone)"))
            };
            ui.monospace(&c.addr);
            ui.label(format!("{:.0}", s.rate_messages));
            ui.label(format!("{:.1}", s.rate_bytes / 1e6));
            if s.errors > 0 {
                ui.colored_label(ui.visuals().error_fg_color, s.errors.to_string());
            } else {
                ui.label("0");
            }
            ui.end_row();
        }
    });
}

/// Every stage of the dispatch chain with its state and errors.
pub fn scripts_panel(ui: &mut egui::Ui, rt: &Runtime) {
    ui.weak("Every message passes these stages in order ([dispatch] chain in config.toml). Hover for the file.");
    let stages = rt.stages();
    if stages.is_empty() {
        ui.weak("No stages.");
    }
    for s in stages {
        ui.horizontal(|ui| {
            let (text, color) = if s.disabled.is_some() {
                ("disabled", ui.visuals().error_fg_color)
            } else if s.load_error.is_some() {
                ("error", ui.visuals().warn_fg_color)
            } else {
                ("ok", ui.visuals().text_color())
            };
            ui.colored_label(color, text);
            ui.strong(&s.name);
            if let Some(v) = &s.version {
                ui.weak(format!("v{v}"));
                if let Some(file) = s.path.as_ref().and_then(|p| p.file_name()) {
                    ui.weak(file.to_string_lossy());
                }
            }
            if s.path.is_some() {
                ui.weak(format!("gen {}", s.generation));
            }
            ui.weak(format!("{} calls, {} failures", s.calls, s.failures));
        })
        .response
        .on_hover_text(match &s.path {
            Some(p) => format!("{}\nfrom chain entry \"{}\"", p.display(), s.entry),
            None => format!("from chain entry \"{}\"", s.entry),
        });
        for (label, text) in [("disabled", &s.disabled), ("load error", &s.load_error), ("last error", &s.last_error)] {
            if let Some(t) = text {
                ui.colored_label(ui.visuals().error_fg_color, format!("  {label}: {t}"));
            }
        }
    }
}

/// The log, newest at the bottom.
pub fn log_panel(ui: &mut egui::Ui, rt: &Runtime) {
    egui::ScrollArea::vertical().id_salt("log").stick_to_bottom(true).auto_shrink([false, false]).show(ui, |ui| {
        for line in rt.log() {
            let color = match line.level {
                Level::Info => ui.visuals().text_color(),
                Level::Error => ui.visuals().error_fg_color,
            };
            ui.colored_label(color, format!("{}  {}", line.clock, line.text))
                .on_hover_text("UTC, like the terminal log");
        }
    });
}

/// The link's state in the top bar of a view (`--connect`).
pub fn link_status(ui: &mut egui::Ui, link: &crate::view_link::ViewLink) {
    use crate::view_link::LinkState;
    match link.state() {
        LinkState::Connected => ui.label(format!("view of {}", link.url)),
        LinkState::Connecting => ui.colored_label(egui::Color32::YELLOW, format!("connecting to {}", link.url)),
        LinkState::Disconnected(why) => ui
            .colored_label(egui::Color32::LIGHT_RED, "disconnected — reconnecting")
            .on_hover_text(format!("{}: {why}", link.url)),
    };
}

/// A view's Server panel: the hub it shows and the hub's clients.
fn hub_panel(ui: &mut egui::Ui, rt: &Runtime) {
    if let Some(link) = rt.link() {
        link_status(ui, link);
    }
    ui.add_space(4.0);
    periscope_ui::panels::hub_clients(ui, &rt.scene);
}
