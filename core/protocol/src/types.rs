//! Message type numbers. aitviewer's numbers are kept so its users feel at home;
//! Periscope's own types use the 300..=599 range.

/// The protocol name a client announces in `hello`.
pub const PROTOCOL_NAME: &str = "periscope";
/// The protocol version this build speaks. A `hello` with another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// Known message types. Numbers outside this list are still carried as raw `i64`
/// in [`crate::Envelope::kind`]; user messages are `>= 10000`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i64)]
pub enum MessageType {
    /// A plain node (transform only).
    Node = 1,
    Meshes = 2,
    Spheres = 3,
    Lines = 4,
    Arrows = 5,
    RigidBodies = 6,
    Smpl = 10,
    Skeletons = 11,
    Delete = 100,
    AddFrames = 101,
    UpdateFrames = 102,
    RemoveFrames = 103,
    SetFrame = 200,
    NextFrame = 201,
    PreviousFrame = 202,
    /// Ask for the scene state (or one node's frame data); answered by `SceneState`.
    Query = 300,
    /// Server -> client: the answer to `Query`.
    SceneState = 301,
    /// Ask for the dispatch chain's stages (scripts: status, generation, errors).
    QueryChain = 302,
    /// Server -> client: the answer to `QueryChain`.
    ChainState = 303,
    /// Ask the viewer to render the scene offscreen; answered by `ScreenshotResult`.
    Screenshot = 304,
    /// Server -> client: the rendered image (RGBA, uint8, (H, W, 4)).
    ScreenshotResult = 305,
    /// Client -> server: remote-rendered images, one viewer window per list index.
    Images = 306,
    /// Client -> server: start or stop receiving the viewer's camera (`enabled`).
    RequireCamera = 307,
    /// Server -> client: the camera of the client's image windows.
    Camera = 308,
    /// Client -> server: resume reading images after a `single` image ("Read remote").
    ReadRemote = 309,
    /// Client -> server: ask for the image windows' state; answered by `ImagesState`.
    QueryImages = 310,
    /// Server -> client: the answer to `QueryImages`.
    ImagesState = 311,
    /// Client -> server: save the scene as a file in the viewer's export folder.
    SaveScene = 312,
    /// Server -> client: the answer to `SaveScene` (the file's path).
    SceneSaved = 313,
    /// Server -> client: a message was refused.
    Error = 400,
    /// Server -> client: a message was accepted with a remark (e.g. an unknown kwarg).
    Warning = 401,
    /// Client -> server: first frame of every connection.
    Hello = 500,
    /// Server -> client: handshake accepted.
    Welcome = 501,
    /// Server -> client: handshake refused; the connection is closed after it.
    Refused = 502,
    /// First user-defined type; the built-in scene handler ignores these.
    UserMessage = 10000,
}

impl MessageType {
    /// The message type for a raw number, if it is one Periscope knows.
    /// Every number `>= 10000` maps to [`MessageType::UserMessage`].
    pub fn from_i64(n: i64) -> Option<Self> {
        use MessageType::*;
        Some(match n {
            1 => Node,
            2 => Meshes,
            3 => Spheres,
            4 => Lines,
            5 => Arrows,
            6 => RigidBodies,
            10 => Smpl,
            11 => Skeletons,
            100 => Delete,
            101 => AddFrames,
            102 => UpdateFrames,
            103 => RemoveFrames,
            200 => SetFrame,
            201 => NextFrame,
            202 => PreviousFrame,
            300 => Query,
            301 => SceneState,
            302 => QueryChain,
            303 => ChainState,
            304 => Screenshot,
            305 => ScreenshotResult,
            306 => Images,
            307 => RequireCamera,
            308 => Camera,
            309 => ReadRemote,
            310 => QueryImages,
            311 => ImagesState,
            312 => SaveScene,
            313 => SceneSaved,
            400 => Error,
            401 => Warning,
            500 => Hello,
            501 => Welcome,
            502 => Refused,
            n if n >= 10000 => UserMessage,
            _ => return None,
        })
    }

    /// The wire number.
    pub fn as_i64(self) -> i64 {
        self as i64
    }

    /// A stable lower-case name, used in logs and error messages.
    pub fn name(self) -> &'static str {
        use MessageType::*;
        match self {
            Node => "node",
            Meshes => "meshes",
            Spheres => "spheres",
            Lines => "lines",
            Arrows => "arrows",
            RigidBodies => "rigid_bodies",
            Smpl => "smpl",
            Skeletons => "skeletons",
            Delete => "delete",
            AddFrames => "add_frames",
            UpdateFrames => "update_frames",
            RemoveFrames => "remove_frames",
            SetFrame => "set_frame",
            NextFrame => "next_frame",
            PreviousFrame => "previous_frame",
            Query => "query",
            SceneState => "scene_state",
            QueryChain => "query_chain",
            ChainState => "chain_state",
            Screenshot => "screenshot",
            ScreenshotResult => "screenshot_result",
            Images => "images",
            RequireCamera => "require_camera",
            Camera => "camera",
            ReadRemote => "read_remote",
            QueryImages => "query_images",
            ImagesState => "images_state",
            SaveScene => "save_scene",
            SceneSaved => "scene_saved",
            Error => "error",
            Warning => "warning",
            Hello => "hello",
            Welcome => "welcome",
            Refused => "refused",
            UserMessage => "user_message",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for n in [
            1, 2, 3, 4, 5, 6, 10, 11, 100, 101, 102, 103, 200, 201, 202, 300, 301, 302, 303, 304, 305, 306, 307, 308,
            309, 310, 311, 312, 313, 400, 401, 500, 501, 502,
        ] {
            let t = MessageType::from_i64(n).unwrap();
            assert_eq!(t.as_i64(), n, "{}", t.name());
        }
        assert_eq!(MessageType::from_i64(12345), Some(MessageType::UserMessage));
        assert_eq!(MessageType::from_i64(7), None);
        assert_eq!(MessageType::from_i64(-1), None);
    }
}
