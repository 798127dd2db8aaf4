//! The window: a tab bar over the panels of [`crate::panels::registry`].

use crate::panels::{Panel, registry, show_panel};

/// The lab application: the registered panels and the selected tab.
pub struct KexueApp {
    panels: Vec<Box<dyn Panel>>,
    selected: usize,
}

impl Default for KexueApp {
    fn default() -> Self {
        Self {
            panels: registry(),
            selected: 0,
        }
    }
}

impl KexueApp {
    /// The panel names, in tab order.
    pub fn panel_names(&self) -> Vec<&'static str> {
        self.panels.iter().map(|p| p.name()).collect()
    }

    /// The index of the selected tab.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// Select a tab by name; false if there is no such panel.
    pub fn select(&mut self, name: &str) -> bool {
        match self.panels.iter().position(|p| p.name() == name) {
            Some(i) => {
                self.selected = i;
                true
            }
            None => false,
        }
    }

    /// Draw the whole app into `ui` (used by the window and by the GUI tests).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        // Every panel drains its jobs each frame, visible or not.
        let mut moving = false;
        for (i, panel) in self.panels.iter_mut().enumerate() {
            if i != self.selected {
                moving |= panel.poll();
            }
        }
        if moving {
            ui.ctx().request_repaint();
        }
        egui::Panel::top("tabs").show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.heading("Kexue Lab");
                ui.separator();
                for (i, panel) in self.panels.iter().enumerate() {
                    if ui
                        .selectable_label(i == self.selected, panel.name())
                        .clicked()
                    {
                        self.selected = i;
                    }
                }
            });
        });
        match self.panels.get_mut(self.selected) {
            Some(panel) => show_panel(ui, panel.as_mut()),
            None => {
                egui::CentralPanel::default().show(ui, |ui| {
                    ui.label("No panels are registered.");
                });
            }
        }
    }
}

impl eframe::App for KexueApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

/// Why the window could not be opened.
#[derive(Debug)]
pub struct WindowError(String);

impl std::fmt::Display for WindowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WindowError {}

fn headless_hint() -> String {
    format!(
        "the headless subcommands work without a display: {} (see `kexue-lab --help`)",
        crate::cli::subcommand_names().join(", ")
    )
}

/// Open the lab window and run until it is closed. Without a display (no
/// `DISPLAY` or `WAYLAND_DISPLAY` on Linux) this fails at once with a message
/// naming the headless subcommands.
pub fn run_window() -> Result<(), WindowError> {
    if cfg!(all(unix, not(target_os = "macos")))
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        return Err(WindowError(format!(
            "no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the lab window cannot open; {}",
            headless_hint()
        )));
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Kexue Lab")
            .with_inner_size([1280.0, 800.0]),
        ..Default::default()
    };
    eframe::run_native(
        "Kexue Lab",
        options,
        Box::new(|_cc| Ok(Box::new(KexueApp::default()))),
    )
    .map_err(|e| {
        WindowError(format!(
            "could not open the lab window ({e}); {}",
            headless_hint()
        ))
    })
}
