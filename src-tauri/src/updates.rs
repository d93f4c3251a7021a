//! Signed updates: thin commands over `tauri-plugin-updater`. The plugin fetches the manifest
//! from the endpoints in tauri.conf.json (`plugins.updater`), downloads the artifact and verifies
//! its minisign signature against the public key there (and, with `requireSignedVersion`, that
//! the signature was made for the version the manifest announces) before anything is installed.
//! Nothing checks for updates on its own: the UI asks (`update_check`, `update_install`).

use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_updater::{Error as PluginError, Update, Updater, UpdaterExt};

use crate::CommandError;

/// The updater plugin, configured from `plugins.updater` in the app's config.
pub fn plugin<R: Runtime>() -> tauri::plugin::TauriPlugin<R, tauri_plugin_updater::Config> {
    tauri_plugin_updater::Builder::new().build()
}

/// What the UI shows about updates.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UpdateView {
    pub current_version: String,
    /// The newer version the endpoint offers, if any.
    pub available: Option<String>,
    pub notes: Option<String>,
    /// True once a verified update was installed (the app needs a restart).
    pub installed: bool,
}

/// Why an update was not taken.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The artifact does not verify against the configured public key (tampered, signed with
    /// another key, or signed for another version than the manifest announces).
    #[error("the update's signature does not verify: {0}")]
    Signature(#[source] PluginError),
    /// The artifact verified, but this copy of the app was not installed from a bundle the
    /// updater can replace (a development build, or a binary run from the build tree).
    #[error("this copy of Seatline was not installed from a bundle the updater can replace")]
    NotBundled,
    #[error("the update server cannot be reached or answered badly: {0}")]
    Network(#[source] PluginError),
    #[error("the update cannot be installed: {0}")]
    Install(#[source] PluginError),
}

impl UpdateError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Signature(_) => "update_signature",
            Self::NotBundled => "update_not_bundled",
            Self::Network(_) => "update_network",
            Self::Install(_) => "update_install",
        }
    }

    fn from_plugin(error: PluginError) -> Self {
        match error {
            PluginError::Minisign(_)
            | PluginError::Base64(_)
            | PluginError::SignatureUtf8(_)
            | PluginError::MissingSignedVersion
            | PluginError::SignedVersionMismatch { .. } => Self::Signature(error),
            PluginError::Reqwest(_) | PluginError::Network(_) | PluginError::ReleaseNotFound => {
                Self::Network(error)
            }
            other => Self::Install(other),
        }
    }
}

impl From<UpdateError> for CommandError {
    fn from(error: UpdateError) -> Self {
        Self {
            code: error.code(),
            message: error.to_string(),
        }
    }
}

fn view(current_version: String, update: Option<&Update>, installed: bool) -> UpdateView {
    UpdateView {
        current_version,
        available: update.map(|u| u.version.clone()),
        notes: update.and_then(|u| u.body.clone()),
        installed,
    }
}

/// Asks the endpoints whether a newer version exists (downloads nothing).
pub async fn check(updater: &Updater, current_version: String) -> Result<UpdateView, UpdateError> {
    let update = updater.check().await.map_err(UpdateError::from_plugin)?;
    Ok(view(current_version, update.as_ref(), false))
}

/// Checks, downloads and verifies the update, then installs it when `can_install` (the app runs
/// from a bundle the updater replaces in place). A download whose signature does not verify is
/// refused before anything is touched.
pub async fn download_and_install(
    updater: &Updater,
    current_version: String,
    can_install: bool,
) -> Result<UpdateView, UpdateError> {
    let Some(update) = updater.check().await.map_err(UpdateError::from_plugin)? else {
        return Ok(view(current_version, None, false));
    };
    let bytes = update
        .download(|_, _| {}, || {})
        .await
        .map_err(UpdateError::from_plugin)?;
    tracing::info!(version = %update.version, bytes = bytes.len(), "update downloaded and verified");
    if !can_install {
        return Err(UpdateError::NotBundled);
    }
    update.install(&bytes).map_err(UpdateError::from_plugin)?;
    tracing::info!(version = %update.version, "update installed; restart to use it");
    Ok(view(current_version, Some(&update), true))
}

/// Whether this process runs from something the updater can replace: an AppImage, or a
/// bundle that recorded its type (deb, rpm, msi, nsis, app) at build time.
fn installed_from_bundle<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.env().appimage.is_some() || tauri::utils::platform::bundle_type().is_some()
}

fn updater<R: Runtime>(app: &AppHandle<R>) -> Result<Updater, CommandError> {
    app.updater()
        .map_err(|error| UpdateError::from_plugin(error).into())
}

#[tauri::command]
pub async fn update_check<R: Runtime>(app: AppHandle<R>) -> Result<UpdateView, CommandError> {
    let current = app.package_info().version.to_string();
    Ok(check(&updater(&app)?, current).await?)
}

#[tauri::command]
pub async fn update_install<R: Runtime>(app: AppHandle<R>) -> Result<UpdateView, CommandError> {
    let current = app.package_info().version.to_string();
    let can_install = installed_from_bundle(&app);
    Ok(download_and_install(&updater(&app)?, current, can_install).await?)
}
