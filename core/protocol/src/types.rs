//! The message type table: every message type is defined here once, with its
//! wire number, its name and its traits. aitviewer's numbers are kept so its
//! users feel at home; Periscope's own types use the 300..=599 range.
//!
//! The server, the viewer, the Python client (`clients/python/periscope/message.py`)
//! and `docs/protocol.md` all follow this table; `tests/agreement.rs` fails when
//! the Python enum or the docs table drift from it.

/// The protocol name a client announces in `hello`.
pub const PROTOCOL_NAME: &str = "periscope";
/// The protocol version this build speaks. A `hello` with another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// Who sends a message type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client -> viewer.
    ToViewer,
    /// Viewer -> client.
    ToClient,
}

impl Direction {
    /// `c -> s` or `s -> c`, as the docs table writes it.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::ToViewer => "c -> s",
            Direction::ToClient => "s -> c",
        }
    }
}

/// What a message type is, asked by the server and the viewer instead of
/// keeping lists of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Traits {
    pub direction: Direction,
    /// The type that answers it, when the sender waits for an answer (an
    /// [`MessageType::Error`] may come instead).
    pub answer: Option<MessageType>,
    /// Only the newest queued message of this type per client matters: a newer
    /// one replaces an older one still waiting (counted as dropped).
    pub newest_wins: bool,
    /// Handling it may change the scene (nodes, frames, playhead, properties):
    /// such messages are what the recorder keeps and a replay re-applies.
    pub changes_scene: bool,
    /// Its answer shows the scene as every message that arrived before it
    /// left it (a query, a screenshot, a saved scene, a video): it waits for
    /// body-model skinning in flight, anyone's, before it is handled.
    pub reads_scene: bool,
    /// Part of aitviewer's protocol: its unmodified client sends it.
    pub aitviewer: bool,
}

impl Traits {
    const fn to_viewer() -> Self {
        Self {
            direction: Direction::ToViewer,
            answer: None,
            newest_wins: false,
            changes_scene: false,
            reads_scene: false,
            aitviewer: false,
        }
    }
    const fn to_client() -> Self {
        Self { direction: Direction::ToClient, ..Self::to_viewer() }
    }
    /// An aitviewer message that changes the scene.
    const fn scene() -> Self {
        Self { changes_scene: true, aitviewer: true, ..Self::to_viewer() }
    }
    const fn asks(answer: MessageType) -> Self {
        Self { answer: Some(answer), ..Self::to_viewer() }
    }
    /// A request whose answer reads the scene (see [`Traits::reads_scene`]).
    const fn reads(answer: MessageType) -> Self {
        Self { reads_scene: true, ..Self::asks(answer) }
    }
}

/// Defines [`MessageType`] and its lookups from one table.
macro_rules! message_types {
    ($( $(#[$doc:meta])* $variant:ident = $number:literal, $name:literal, $traits:expr; )*) => {
        /// Known message types. Numbers outside this list are still carried as raw
        /// `i64` in [`crate::Envelope::kind`]; user messages are `>= 10000`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(i64)]
        pub enum MessageType {
            $( $(#[$doc])* $variant = $number, )*
        }

        impl MessageType {
            /// Every message type, in wire-number order.
            pub const ALL: &'static [MessageType] = &[ $( MessageType::$variant, )* ];

            /// The message type for a raw number, if it is one Periscope knows.
            /// Every number `>= 10000` maps to [`MessageType::UserMessage`].
            pub fn from_i64(n: i64) -> Option<Self> {
                match n {
                    $( $number => Some(MessageType::$variant), )*
                    n if n >= 10_000 => Some(MessageType::UserMessage),
                    _ => None,
                }
            }

            /// A stable lower-case name, used in logs and error messages
            /// (the Python enum and the docs use it upper-cased).
            pub fn name(self) -> &'static str {
                match self {
                    $( MessageType::$variant => $name, )*
                }
            }

            /// What this type is: direction, answer, newest-wins, scene change.
            pub fn traits(self) -> Traits {
                match self {
                    $( MessageType::$variant => $traits, )*
                }
            }
        }
    };
}

use MessageType as T;

message_types! {
    /// A plain node (transform only).
    Node = 1, "node", Traits::scene();
    Meshes = 2, "meshes", Traits::scene();
    Spheres = 3, "spheres", Traits::scene();
    Lines = 4, "lines", Traits::scene();
    Arrows = 5, "arrows", Traits::scene();
    RigidBodies = 6, "rigid_bodies", Traits::scene();
    Smpl = 10, "smpl", Traits::scene();
    Skeletons = 11, "skeletons", Traits::scene();
    /// Points drawn as sprites, colors per point, any count per frame (Periscope's own).
    PointClouds = 12, "point_clouds", Traits { aitviewer: false, ..Traits::scene() };
    Delete = 100, "delete", Traits::scene();
    AddFrames = 101, "add_frames", Traits::scene();
    UpdateFrames = 102, "update_frames", Traits::scene();
    RemoveFrames = 103, "remove_frames", Traits::scene();
    SetFrame = 200, "set_frame", Traits::scene();
    NextFrame = 201, "next_frame", Traits::scene();
    PreviousFrame = 202, "previous_frame", Traits::scene();
    /// Client -> viewer: start or stop playback (`playing`) and set its speed
    /// (`fps`), both optional. The window's play button, scripts and plugins
    /// send this too (Periscope's own, numbered beside the playhead's).
    Playback = 203, "playback", Traits { changes_scene: true, ..Traits::to_viewer() };
    /// Ask for the scene state (or one node's frame data); answered by `SceneState`.
    Query = 300, "query", Traits::reads(T::SceneState);
    /// Viewer -> client: the answer to `Query`.
    SceneState = 301, "scene_state", Traits::to_client();
    /// Ask for the dispatch chain's stages (scripts: status, generation, errors).
    QueryChain = 302, "query_chain", Traits::asks(T::ChainState);
    /// Viewer -> client: the answer to `QueryChain`.
    ChainState = 303, "chain_state", Traits::to_client();
    /// Ask the viewer to render the scene offscreen; answered by `ScreenshotResult`.
    Screenshot = 304, "screenshot", Traits::reads(T::ScreenshotResult);
    /// Viewer -> client: the rendered image (RGBA, uint8, (H, W, 4)).
    ScreenshotResult = 305, "screenshot_result", Traits::to_client();
    /// Client -> viewer: remote-rendered images, one viewer window per list index.
    Images = 306, "images", Traits { newest_wins: true, ..Traits::to_viewer() };
    /// Client -> viewer: start or stop receiving the viewer's camera (`enabled`).
    RequireCamera = 307, "require_camera", Traits::to_viewer();
    /// Viewer -> client: the camera of the client's image windows.
    Camera = 308, "camera", Traits::to_client();
    /// Client -> viewer: resume reading images after a `single` image ("Read remote").
    ReadRemote = 309, "read_remote", Traits::to_viewer();
    /// Client -> viewer: ask for the image windows' state; answered by `ImagesState`.
    QueryImages = 310, "query_images", Traits::asks(T::ImagesState);
    /// Viewer -> client: the answer to `QueryImages`.
    ImagesState = 311, "images_state", Traits::to_client();
    /// Client -> viewer: save the scene as a file in the viewer's export folder.
    SaveScene = 312, "save_scene", Traits::reads(T::SceneSaved);
    /// Viewer -> client: the answer to `SaveScene` (the file's path).
    SceneSaved = 313, "scene_saved", Traits::to_client();
    /// Client -> viewer: change a node's properties (name, color, enabled,
    /// position, rotation, scale). The viewer's own panels send this too.
    SetProperties = 314, "set_properties", Traits { changes_scene: true, ..Traits::to_viewer() };
    /// Client -> viewer: set the main view's camera (`position`, `target`, `fov_y`;
    /// world coordinates, degrees). Screenshots without a camera use it.
    SetCamera = 315, "set_camera", Traits::to_viewer();
    /// Client -> viewer: ask for the main view's camera; answered by `ViewCamera`.
    QueryCamera = 316, "query_camera", Traits::asks(T::ViewCamera);
    /// Viewer -> client: the main view's camera (the `Camera` fields plus `target`).
    ViewCamera = 317, "view_camera", Traits::to_client();
    /// Client -> viewer: define a control (slider, checkbox, dropdown, text,
    /// number, color, button) in the Controls panel; answered by `ControlState`.
    AddControl = 318, "add_control", Traits { changes_scene: true, ..Traits::asks(T::ControlState) };
    /// Viewer -> client: a control after `AddControl` or `SetControl` (with its viewer-wide `id`).
    ControlState = 319, "control_state", Traits::to_client();
    /// Client -> viewer: the owner changes its control (value, label, range,
    /// options, disabled, visible, folder); no event fires.
    UpdateControl = 320, "update_control", Traits { changes_scene: true, ..Traits::to_viewer() };
    /// Client -> viewer: the owner removes its control.
    RemoveControl = 321, "remove_control", Traits { changes_scene: true, ..Traits::to_viewer() };
    /// Client -> viewer: change any control as a person in the window would (a
    /// button is pressed); the owner gets an `Event`, the sender a `ControlState`.
    /// The panels send this too.
    SetControl = 322, "set_control", Traits { changes_scene: true, ..Traits::asks(T::ControlState) };
    /// Client -> viewer: every control in the viewer; answered by `Controls`.
    QueryControls = 323, "query_controls", Traits::asks(T::Controls);
    /// Viewer -> client: the answer to `QueryControls`.
    Controls = 324, "controls", Traits::to_client();
    /// Client -> viewer: select a node (or clear the selection); the view's
    /// clicks and the scene tree send this too.
    Select = 325, "select", Traits { changes_scene: true, ..Traits::to_viewer() };
    /// Client -> viewer: which events this client wants besides its controls'
    /// (`select`, `camera`: bools).
    Subscribe = 326, "subscribe", Traits::to_viewer();
    /// Viewer -> client: something happened (`event`: `control`, `select` or `camera`).
    Event = 327, "event", Traits::to_client();
    /// Client -> viewer: a remote-rendered image (and optional depth) drawn into
    /// the main 3D view, composited with the local scene by depth.
    ViewportImage = 328, "viewport_image", Traits { newest_wins: true, ..Traits::to_viewer() };
    /// Client -> viewer: remove this client's image from the main view.
    ClearViewport = 329, "clear_viewport", Traits::to_viewer();
    /// Client -> viewer: one part of a big array (`transfer`, `data`; the first
    /// part also `dtype`, `nbytes`), used by the next message in place of its
    /// data. Handled by the connection: never queued, never seen by the chain.
    ArrayPart = 330, "array_part", Traits::to_viewer();
    /// Client -> viewer: render scene frames along a camera path into a video
    /// (MP4, GIF or PNG sequence) in the viewer's export folder; answered by
    /// `VideoExported` when the file is written.
    ExportVideo = 331, "export_video", Traits::reads(T::VideoExported);
    /// Viewer -> client: the answer to `ExportVideo` (path, frames, size, and the
    /// file's bytes when asked).
    VideoExported = 332, "video_exported", Traits::to_client();
    /// Viewer -> view: the start (`part` 0) or a further part of a snapshot
    /// of the whole scene (`changes`); `next` is the change batch that follows
    /// it. Only connections whose hello says `role = "view"` get these.
    ViewSnapshot = 340, "view_snapshot", Traits::to_client();
    /// Viewer -> view: part `part` of change batch `batch` (`changes`, `last`).
    ViewChanges = 341, "view_changes", Traits::to_client();
    /// View -> viewer: the view's mirror missed or could not apply a change;
    /// it is sent a fresh snapshot.
    ViewResync = 342, "view_resync", Traits::to_viewer();
    /// View -> viewer: the view's camera changed (a person moved it): world
    /// `position`, `target`, `fov_y` (degrees) and the view's `width` and
    /// `height`. The camera of the view used last is the one remote renderers
    /// follow and camera events report (with `view`).
    ViewMoved = 343, "view_moved", Traits { newest_wins: true, ..Traits::to_viewer() };
    /// Viewer -> view: a remote renderer's latest `images`, `viewport_image`
    /// or `clear_viewport` (`message`), as client `client` (`client_name`)
    /// sent it, or `gone: true` when that client left. Newest wins per client
    /// and kind: a view that reads slowly skips images, never scene changes.
    ViewImages = 344, "view_images", Traits::to_client();
    /// Viewer -> client: a message was refused.
    Error = 400, "error", Traits::to_client();
    /// Viewer -> client: a message was accepted with a remark (e.g. an unknown kwarg).
    Warning = 401, "warning", Traits::to_client();
    /// Client -> viewer: first frame of every connection.
    Hello = 500, "hello", Traits::to_viewer();
    /// Viewer -> client: handshake accepted.
    Welcome = 501, "welcome", Traits::to_client();
    /// Viewer -> client: handshake refused; the connection is closed after it.
    Refused = 502, "refused", Traits::to_client();
    /// First user-defined type; the built-in scene handler ignores these.
    UserMessage = 10000, "user_message", Traits { aitviewer: true, ..Traits::to_viewer() };
}

impl MessageType {
    /// The wire number.
    pub fn as_i64(self) -> i64 {
        self as i64
    }

    /// The name as the Python enum and the docs spell it (`ADD_FRAMES`).
    pub fn const_name(self) -> String {
        self.name().to_ascii_uppercase()
    }

    /// Whether this type answers a request (so a waiting sender has its answer).
    /// An error answers any request.
    pub fn is_answer(self) -> bool {
        self == T::Error || T::ALL.iter().any(|t| t.traits().answer == Some(self))
    }
}

/// The traits of a raw type number; custom numbers (`>= 10000`) are user
/// messages, other unknown numbers have none.
pub fn traits_of(kind: i64) -> Option<Traits> {
    MessageType::from_i64(kind).map(MessageType::traits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for &t in MessageType::ALL {
            assert_eq!(MessageType::from_i64(t.as_i64()), Some(t), "{}", t.name());
        }
        assert_eq!(MessageType::from_i64(12345), Some(MessageType::UserMessage));
        assert_eq!(MessageType::from_i64(7), None);
        assert_eq!(MessageType::from_i64(-1), None);
    }

    #[test]
    fn numbers_and_names_are_unique_and_ordered() {
        let all = MessageType::ALL;
        assert!(all.windows(2).all(|w| w[0].as_i64() < w[1].as_i64()), "table must be in wire order");
        let mut names: Vec<&str> = all.iter().map(|t| t.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }

    #[test]
    fn answers_go_to_the_client_and_requests_to_the_viewer() {
        for &t in MessageType::ALL {
            let tr = t.traits();
            if let Some(a) = tr.answer {
                assert_eq!(tr.direction, Direction::ToViewer, "{}", t.name());
                assert_eq!(a.traits().direction, Direction::ToClient, "{} answers {}", a.name(), t.name());
                assert!(a.is_answer());
            }
            if tr.changes_scene || tr.newest_wins || tr.reads_scene {
                assert_eq!(tr.direction, Direction::ToViewer, "{}", t.name());
            }
            if tr.reads_scene {
                assert!(tr.answer.is_some(), "{} reads the scene for an answer", t.name());
            }
        }
        assert!(MessageType::Error.is_answer());
        assert!(!MessageType::Camera.is_answer());
        assert!(MessageType::Images.traits().newest_wins);
    }

    #[test]
    fn the_reads_that_wait_for_skinning() {
        let reads: Vec<_> = MessageType::ALL.iter().filter(|t| t.traits().reads_scene).map(|t| t.name()).collect();
        assert_eq!(reads, ["query", "screenshot", "save_scene", "export_video"]);
    }
}
