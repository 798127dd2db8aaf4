//! Headless GUI tests over the panel registry: every registered panel is drawn
//! for several frames without panicking, and every tab of the app can be
//! selected. Panel-specific tests (changing a control by its label and checking
//! the computed data) live beside this file, one per panel.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use kexue_gui::app::KexueApp;
use kexue_gui::panels::{Panel, registry, show_panel};

const SIZE: egui::Vec2 = egui::vec2(1280.0, 800.0);

#[test]
fn every_registered_panel_runs_frames_without_panicking() {
    for panel in registry() {
        let name = panel.name();
        let mut harness = Harness::builder().with_size(SIZE).build_ui_state(
            |ui, p: &mut Box<dyn Panel>| show_panel(ui, p.as_mut()),
            panel,
        );
        harness.run_steps(5);
        let caption = harness.state().caption();
        assert!(!caption.claim.is_empty(), "{name}: empty claim");
    }
}

#[test]
fn panel_names_are_unique() {
    let names: Vec<_> = registry().iter().map(|p| p.name()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        names.len(),
        "duplicate panel names: {names:?}"
    );
}

#[test]
fn every_tab_can_be_selected_by_clicking_its_label() {
    let app = KexueApp::default();
    let names = app.panel_names();
    let mut harness = Harness::builder()
        .with_size(SIZE)
        .build_ui_state(|ui, app: &mut KexueApp| app.show(ui), app);
    harness.run_steps(2);
    for (i, name) in names.iter().enumerate() {
        harness.get_by_label(name).click();
        harness.run_steps(3);
        assert_eq!(harness.state().selected(), i, "clicking {name}");
    }
}
