//! The renderer: pipelines, per-node GPU data kept in sync with the scene,
//! and one render pass into a [`RenderTarget`].

use std::collections::HashMap;

use bytemuck::{Pod, Zeroable};
use glam::{Mat4, Vec3, Vec4};
use periscope_scene::NodeId;

use crate::SceneView;
use wgpu::util::DeviceExt as _;

use crate::camera::{Camera, world_to_display};
use crate::caps::{Capabilities, Tier};
use crate::extract::{MeshVertex, SphereInstance, TubeInstance, extract, node_transform};
use crate::primitives::{Shape, UnitVertex, icosphere, tube};
use crate::target::{COLOR_FORMAT, ID_FORMAT, MSAA_SAMPLES, RenderTarget};

/// How the scene looks; part of the viewer's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderOptions {
    /// Background color, sRGB in [0, 1].
    pub background: [f32; 3],
    /// The data's up axis is +z (else +y).
    pub z_up: bool,
    /// Draw the ground grid.
    pub grid: bool,
    /// Ambient light fraction in [0, 1].
    pub ambient: f32,
    /// The key light casts shadows (a shadow map over the scene's bounds).
    pub shadows: bool,
    /// Draw a ground plane under the scene (it receives shadows).
    pub ground: bool,
    /// Outline the selected node.
    pub outline: bool,
    /// Screen-space ambient occlusion (darkens creases and contact areas).
    pub ssao: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            background: [0.12, 0.13, 0.15],
            z_up: false,
            grid: true,
            ambient: 0.3,
            shadows: true,
            ground: true,
            outline: true,
            ssao: false,
        }
    }
}

/// Direction towards the key light in display space (above, front left of
/// the default view), fixed in the scene so shadows stay put when the
/// camera moves.
const KEY_LIGHT: Vec3 = Vec3::new(-0.45, 1.0, 0.55);
/// Share of direct light that comes from the key light (the rest is the headlight).
const KEY_STRENGTH: f32 = 0.7;

/// What the last [`Renderer::render`] drew.
#[derive(Clone, Copy, Debug, Default)]
pub struct FrameStats {
    pub draw_calls: u32,
    pub triangles: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Globals {
    view_proj: [[f32; 4]; 4],
    eye: [f32; 4],
    light: [f32; 4],
    world_to_display: [[f32; 4]; 4],
    fog: [f32; 4],
    /// Target width and height in pixels, the projection's y scale, unused.
    viewport: [f32; 4],
    light_view_proj: [[f32; 4]; 4],
    key: [f32; 4],
    /// On, texel (uv), normal offset, depth bias.
    shadow: [f32; 4],
    sky: [f32; 4],
    ground_bounce: [f32; 4],
    ground: [f32; 4],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct NodeUniform {
    model: [[f32; 4]; 4],
    normal_mat: [[f32; 4]; 4],
    color: [f32; 4],
    flags: [u32; 4],
    /// Point clouds: sprite diameter (pixels, or world units scaled by the
    /// node's scale), 1 when in world units, 1 with colors per point, unused.
    params: [f32; 4],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct LineVertex {
    position: [f32; 3],
    color: [f32; 4],
}

/// A GPU buffer reused while its capacity suffices.
struct GrowBuffer {
    buffer: wgpu::Buffer,
    capacity: u64,
    /// Elements currently in use.
    count: u32,
}

fn upload<T: Pod>(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    slot: &mut Option<GrowBuffer>,
    data: &[T],
    usage: wgpu::BufferUsages,
    label: &str,
) {
    if data.is_empty() {
        *slot = None;
        return;
    }
    let bytes: &[u8] = bytemuck::cast_slice(data);
    match slot {
        Some(b) if b.capacity >= bytes.len() as u64 => {
            queue.write_buffer(&b.buffer, 0, bytes);
            b.count = data.len() as u32;
        }
        _ => {
            let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage: usage | wgpu::BufferUsages::COPY_DST,
            });
            *slot = Some(GrowBuffer { buffer, capacity: bytes.len() as u64, count: data.len() as u32 });
        }
    }
}

/// One node's GPU data.
struct GpuNode {
    /// (node version, node frame) the data was built from.
    key: (u64, usize),
    enabled: bool,
    uniform: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    mesh_vertices: Option<GrowBuffer>,
    mesh_indices: Option<GrowBuffer>,
    mesh_edges: Option<GrowBuffer>,
    spheres: Option<GrowBuffer>,
    tubes: Option<GrowBuffer>,
    /// Point clouds: xyz per point, and RGBA8 per point when it has colors
    /// (storage buffers the vertex shader reads on the full tier, instanced
    /// vertex buffers on the limited tier), and on the full tier per chunk of
    /// at most [`POINT_CHUNK`] points its bind group and point count.
    points: Option<GrowBuffer>,
    point_colors: Option<GrowBuffer>,
    point_chunks: Vec<(wgpu::BindGroup, u32)>,
    /// World-space bounds.
    bounds: Option<(Vec3, Vec3)>,
    /// Some color has alpha < 1: drawn blended, after the opaque nodes.
    translucent: bool,
}

struct GpuShape {
    vertices: wgpu::Buffer,
    indices: wgpu::Buffer,
    n_indices: u32,
}

impl GpuShape {
    fn new(device: &wgpu::Device, shape: &Shape, label: &str) -> Self {
        let init = |contents: &[u8], usage| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some(label), contents, usage })
        };
        Self {
            vertices: init(bytemuck::cast_slice(&shape.vertices), wgpu::BufferUsages::VERTEX),
            indices: init(bytemuck::cast_slice(&shape.indices), wgpu::BufferUsages::INDEX),
            n_indices: shape.indices.len() as u32,
        }
    }
}

struct Pipelines {
    /// Depth only, from the key light (mesh, spheres, tubes).
    shadow_mesh: wgpu::RenderPipeline,
    shadow_sphere: wgpu::RenderPipeline,
    shadow_tube: wgpu::RenderPipeline,
    ground: wgpu::RenderPipeline,
    /// Full-screen: the selected node's outline over the resolved image.
    outline: wgpu::RenderPipeline,
    /// Full-screen: ambient occlusion multiplied into the resolved image, and
    /// its bind group layout. `None` on the limited tier (no multisampled
    /// depth texture in shaders: [`Capabilities::ssao`]): the option is skipped.
    ssao: Option<(wgpu::RenderPipeline, wgpu::BindGroupLayout)>,
    /// Limited tier: the resolved image copied into the target's plain
    /// `Rgba8Unorm` texture for egui (`encode.wgsl`), and its layout.
    encode: Option<(wgpu::RenderPipeline, wgpu::BindGroupLayout)>,
    mesh: wgpu::RenderPipeline,
    edges: wgpu::RenderPipeline,
    sphere: wgpu::RenderPipeline,
    tube: wgpu::RenderPipeline,
    grid: wgpu::RenderPipeline,
    /// Translucent nodes: alpha blending, depth test without depth writes.
    blend_mesh: wgpu::RenderPipeline,
    blend_sphere: wgpu::RenderPipeline,
    blend_tube: wgpu::RenderPipeline,
    /// The pick pass: same geometry, node ids into a single-sampled integer target.
    pick_mesh: wgpu::RenderPipeline,
    pick_sphere: wgpu::RenderPipeline,
    pick_tube: wgpu::RenderPipeline,
    /// Point sprites per pass (color, blend, pick).
    points: PointPipelines,
}

/// How point clouds are drawn on this tier.
enum PointPipelines {
    /// Full tier: points and colors read from storage buffers (group 2; the
    /// bind group layout, and a 4-byte buffer bound for clouds without colors).
    Storage { pipelines: [wgpu::RenderPipeline; 3], layout: wgpu::BindGroupLayout, no_colors: wgpu::Buffer },
    /// Limited tier: one instance per point, position (and color) as
    /// per-instance vertex attributes; pipelines with and without colors.
    Instanced { colored: [wgpu::RenderPipeline; 3], plain: [wgpu::RenderPipeline; 3] },
}

/// Points per draw of a cloud: its storage bindings stay below wgpu's default
/// 128 MiB binding limit, and chunk offsets stay 256-byte aligned.
const POINT_CHUNK: usize = 1 << 22;

/// Which pass a draw belongs to (the index of its point pipelines).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Color = 0,
    /// Color pass, translucent nodes (blended, no depth writes).
    Blend = 1,
    Pick = 2,
}

impl Pass {
    /// Target format, samples, blending and depth writes of this pass's pipelines.
    fn target(self) -> (wgpu::TextureFormat, u32, Option<wgpu::BlendState>, bool) {
        let (format, samples) = match self {
            Pass::Color | Pass::Blend => (COLOR_FORMAT, MSAA_SAMPLES),
            Pass::Pick => (ID_FORMAT, 1),
        };
        (format, samples, (self == Pass::Blend).then_some(wgpu::BlendState::ALPHA_BLENDING), self != Pass::Blend)
    }
}

/// Draws a [`periscope_scene::Scene`] with wgpu.
pub struct Renderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipelines: Pipelines,
    globals: wgpu::Buffer,
    globals_bind_group: wgpu::BindGroup,
    node_layout: wgpu::BindGroupLayout,
    caps: Capabilities,
    sphere: GpuShape,
    /// Coarser spheres for nodes with many spheres (80 and 20 triangles).
    sphere_coarse: GpuShape,
    sphere_coarsest: GpuShape,
    tube: GpuShape,
    grid: GpuNodeGrid,
    nodes: HashMap<NodeId, GpuNode>,
    /// [`periscope_scene::Scene::instance`] the nodes belong to.
    scene_instance: u64,
    options: RenderOptions,
    stats: FrameStats,
    /// Remote-rendered images drawn into the view (`background.rs`).
    backgrounds: crate::background::Backgrounds,
    /// The key light's shadow map and the globals the shadow pass draws with.
    shadow_view: wgpu::TextureView,
    shadow_globals: wgpu::Buffer,
    shadow_bind_group: wgpu::BindGroup,
    /// The ground plane (two triangles; drawn with the grid's uniform).
    ground: Option<GrowBuffer>,
    outline_layout: wgpu::BindGroupLayout,
    ssao_params: wgpu::Buffer,
    /// The scene's selected node (outlined).
    selected: Option<NodeId>,
}

/// The ground grid: a line list in display space.
struct GpuNodeGrid {
    vertices: Option<GrowBuffer>,
    uniform: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    /// Grid spacing it (and the ground) was built for.
    spacing: f32,
}

/// Grid lines on each side of the origin.
const GRID_LINES: u32 = 20;

/// Spheres per node above which coarser spheres are used: so many spheres are small on screen.
const COARSE_SPHERES: u32 = 5_000;
const COARSEST_SPHERES: u32 = 50_000;

/// The pick id written for `node` (0 means background).
fn pick_id(node: NodeId) -> u32 {
    (node as u32).wrapping_add(1)
}

impl Renderer {
    /// Builds the pipelines on `device` for its tier ([`Capabilities::of`]).
    /// Cheap to keep for the program's life.
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue, options: RenderOptions) -> Self {
        let caps = Capabilities::of(device);
        let full = caps.tier == Tier::Full;
        tracing::debug!(?caps, "renderer capabilities");
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("periscope scene shader"),
            source: wgpu::ShaderSource::Wgsl(scene_shader(caps.tier).into()),
        });
        let uniform_layout = |label| {
            device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(label),
                entries: &[crate::pipeline::uniform_entry(0)],
            })
        };
        // Globals, and the key light's shadow map with its comparison sampler.
        let globals_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("periscope globals"),
            entries: &[
                crate::pipeline::uniform_entry(0),
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Depth,
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Comparison),
                    count: None,
                },
            ],
        });
        // The shadow pass draws into the map, so it binds only the uniform.
        let shadow_globals_layout = uniform_layout("periscope shadow globals");
        let node_layout = uniform_layout("periscope node");
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("periscope scene"),
            bind_group_layouts: &[Some(&globals_layout), Some(&node_layout)],
            immediate_size: 0,
        });
        let globals_buffer = |label| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: std::mem::size_of::<Globals>() as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let globals = globals_buffer("periscope globals");
        let shadow_map = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("periscope shadow map"),
            size: wgpu::Extent3d { width: caps.shadow_map, height: caps.shadow_map, depth_or_array_layers: 1 },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: crate::target::DEPTH_FORMAT,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
            view_formats: &[],
        });
        let shadow_view = shadow_map.create_view(&Default::default());
        let shadow_sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("periscope shadow sampler"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            compare: Some(wgpu::CompareFunction::LessEqual),
            ..Default::default()
        });
        let globals_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("periscope globals"),
            layout: &globals_layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: globals.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: wgpu::BindingResource::TextureView(&shadow_view) },
                wgpu::BindGroupEntry { binding: 2, resource: wgpu::BindingResource::Sampler(&shadow_sampler) },
            ],
        });
        // The same globals with the key light's view-projection, for the shadow pass.
        let shadow_globals = globals_buffer("periscope shadow globals");
        let shadow_bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("periscope shadow globals"),
            layout: &shadow_globals_layout,
            entries: &[wgpu::BindGroupEntry { binding: 0, resource: shadow_globals.as_entire_binding() }],
        });
        let shadow_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("periscope shadow"),
            bind_group_layouts: &[Some(&shadow_globals_layout), Some(&node_layout)],
            immediate_size: 0,
        });
        let outline_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("periscope outline"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Uint,
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            }],
        });
        let outline_shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("periscope outline shader"),
            source: wgpu::ShaderSource::Wgsl(
                concat!(include_str!("shaders/screen.wgsl"), include_str!("shaders/outline.wgsl")).into(),
            ),
        });
        let outline = crate::pipeline::build_overlay(
            device,
            &outline_layout,
            &outline_shader,
            "fs_outline",
            wgpu::BlendState::ALPHA_BLENDING,
        );
        // WebGL2 cannot bind a multisampled (depth) texture, and GLSL ES has no
        // `textureLoad` from a depth texture: not built on the limited tier.
        let ssao = full.then(|| {
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("periscope ssao"),
                entries: &[
                    wgpu::BindGroupLayoutEntry {
                        binding: 0,
                        visibility: wgpu::ShaderStages::FRAGMENT,
                        ty: wgpu::BindingType::Texture {
                            sample_type: wgpu::TextureSampleType::Depth,
                            view_dimension: wgpu::TextureViewDimension::D2,
                            multisampled: true,
                        },
                        count: None,
                    },
                    crate::pipeline::uniform_entry(1),
                ],
            });
            let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("periscope ssao shader"),
                source: wgpu::ShaderSource::Wgsl(
                    concat!(include_str!("shaders/screen.wgsl"), include_str!("shaders/ssao.wgsl")).into(),
                ),
            });
            let multiply = crate::pipeline::MULTIPLY;
            (crate::pipeline::build_overlay(device, &layout, &shader, "fs_ssao", multiply), layout)
        });
        // The limited tier's copy of the image into the plain texture egui shows.
        let encode = (!full).then(|| {
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("periscope encode"),
                entries: &[wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: false },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                }],
            });
            let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("periscope encode shader"),
                source: wgpu::ShaderSource::Wgsl(
                    concat!(include_str!("shaders/screen.wgsl"), include_str!("shaders/encode.wgsl")).into(),
                ),
            });
            let format = crate::target::COLOR_FORMAT_LINEAR_VIEW;
            (crate::pipeline::build_screen(device, &layout, &shader, "fs_encode", format, None), layout)
        });
        let ssao_params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("periscope ssao params"),
            size: 32,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });

        let unit_attrs = wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x3];
        let unit = wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<UnitVertex>() as u64,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &unit_attrs,
        };
        let mesh_attrs = wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x3, 2 => Unorm8x4];
        let mesh = wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<MeshVertex>() as u64,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &mesh_attrs,
        };
        let sphere_attrs = wgpu::vertex_attr_array![2 => Float32x3, 3 => Float32, 4 => Float32x4];
        let sphere_inst = wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<SphereInstance>() as u64,
            step_mode: wgpu::VertexStepMode::Instance,
            attributes: &sphere_attrs,
        };
        let tube_attrs =
            wgpu::vertex_attr_array![2 => Float32x3, 3 => Float32, 4 => Float32x3, 5 => Float32, 6 => Float32x4];
        let tube_inst = wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<TubeInstance>() as u64,
            step_mode: wgpu::VertexStepMode::Instance,
            attributes: &tube_attrs,
        };
        let line_attrs = wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x4];
        let line = wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<LineVertex>() as u64,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &line_attrs,
        };

        let pipeline = |label: &str,
                        vs: &str,
                        fs: &str,
                        buffers: &[Option<wgpu::VertexBufferLayout>],
                        topology: wgpu::PrimitiveTopology,
                        cull: Option<wgpu::Face>,
                        pass: Pass| {
            let (format, samples, blend, depth_write) = pass.target();
            crate::pipeline::build(
                device,
                &crate::pipeline::PipelineDesc {
                    label,
                    layout: &layout,
                    shader: &shader,
                    vs,
                    fs,
                    buffers,
                    topology,
                    cull,
                    format,
                    samples,
                    blend,
                    depth_write,
                },
            )
        };
        use wgpu::PrimitiveTopology::{LineList, TriangleList};
        let back = Some(wgpu::Face::Back);
        let sphere_bufs = [Some(unit.clone()), Some(sphere_inst)];
        let tube_bufs = [Some(unit), Some(tube_inst)];
        let mesh_bufs = [Some(mesh)];
        let points = if full {
            point_storage_pipelines(device, &shader, &globals_layout, &node_layout)
        } else {
            point_instanced_pipelines(device, &shader, &layout)
        };
        let shadow = |label: &str, vs: &str, buffers: &[Option<wgpu::VertexBufferLayout>]| {
            crate::pipeline::build_depth_only(device, label, &shadow_layout, &shader, vs, buffers)
        };
        let pipelines = Pipelines {
            shadow_mesh: shadow("shadow mesh", "vs_mesh", &mesh_bufs),
            shadow_sphere: shadow("shadow spheres", "vs_sphere", &sphere_bufs),
            shadow_tube: shadow("shadow tubes", "vs_tube", &tube_bufs),
            ground: pipeline(
                "periscope ground",
                "vs_line",
                "fs_ground",
                &[Some(line.clone())],
                TriangleList,
                None,
                Pass::Color,
            ),
            outline,
            ssao,
            encode,
            points,
            mesh: pipeline("periscope mesh", "vs_mesh", "fs_lit", &mesh_bufs, TriangleList, None, Pass::Color),
            edges: pipeline("periscope edges", "vs_edges", "fs_flat", &mesh_bufs, LineList, None, Pass::Color),
            sphere: pipeline("periscope spheres", "vs_sphere", "fs_lit", &sphere_bufs, TriangleList, back, Pass::Color),
            tube: pipeline("periscope tubes", "vs_tube", "fs_lit", &tube_bufs, TriangleList, back, Pass::Color),
            grid: pipeline("periscope grid", "vs_line", "fs_grid", &[Some(line)], LineList, None, Pass::Color),
            blend_mesh: pipeline("blend mesh", "vs_mesh", "fs_lit", &mesh_bufs, TriangleList, None, Pass::Blend),
            blend_sphere: pipeline(
                "blend spheres",
                "vs_sphere",
                "fs_lit",
                &sphere_bufs,
                TriangleList,
                back,
                Pass::Blend,
            ),
            blend_tube: pipeline("blend tubes", "vs_tube", "fs_lit", &tube_bufs, TriangleList, back, Pass::Blend),
            pick_mesh: pipeline(
                "periscope pick mesh",
                "vs_mesh",
                "fs_pick",
                &mesh_bufs,
                TriangleList,
                None,
                Pass::Pick,
            ),
            pick_sphere: pipeline("pick spheres", "vs_sphere", "fs_pick", &sphere_bufs, TriangleList, back, Pass::Pick),
            pick_tube: pipeline(
                "periscope pick tubes",
                "vs_tube",
                "fs_pick",
                &tube_bufs,
                TriangleList,
                back,
                Pass::Pick,
            ),
        };
        let (grid_uniform, grid_bg) = Self::node_uniform(device, &node_layout);
        Self {
            sphere: GpuShape::new(device, &icosphere(2), "unit sphere"),
            sphere_coarse: GpuShape::new(device, &icosphere(1), "unit sphere (coarse)"),
            sphere_coarsest: GpuShape::new(device, &icosphere(0), "unit sphere (coarsest)"),
            tube: GpuShape::new(device, &tube(16), "unit tube"),
            grid: GpuNodeGrid { vertices: None, uniform: grid_uniform, bind_group: grid_bg, spacing: 0.0 },
            device: device.clone(),
            queue: queue.clone(),
            caps,
            pipelines,
            globals,
            globals_bind_group,
            node_layout,
            nodes: HashMap::new(),
            scene_instance: 0,
            options,
            stats: FrameStats::default(),
            backgrounds: crate::background::Backgrounds::new(device),
            shadow_view,
            shadow_globals,
            shadow_bind_group,
            ground: None,
            outline_layout,
            ssao_params,
            selected: None,
        }
    }

    fn node_uniform(device: &wgpu::Device, layout: &wgpu::BindGroupLayout) -> (wgpu::Buffer, wgpu::BindGroup) {
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("periscope node"),
            size: std::mem::size_of::<NodeUniform>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bg = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("periscope node"),
            layout,
            entries: &[wgpu::BindGroupEntry { binding: 0, resource: buffer.as_entire_binding() }],
        });
        (buffer, bg)
    }

    /// Whether this device can draw ambient occlusion (not on the limited
    /// tier; `ssao` then does nothing).
    pub fn ssao_available(&self) -> bool {
        self.pipelines.ssao.is_some()
    }

    /// The device's tier, what it can draw and, for what it cannot, why
    /// (options it cannot draw are skipped: [`Capabilities::effective`]).
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    pub fn options(&self) -> &RenderOptions {
        &self.options
    }

    /// Changes how the scene looks; the next render uses it.
    pub fn set_options(&mut self, options: RenderOptions) {
        self.options = options;
    }

    /// Statistics of the last render.
    pub fn stats(&self) -> FrameStats {
        self.stats
    }

    /// Bytes of the per-node GPU buffers (vertices, indices, instances, points).
    pub fn gpu_bytes(&self) -> u64 {
        let size = |b: &Option<GrowBuffer>| b.as_ref().map_or(0, |b| b.capacity);
        self.nodes
            .values()
            .map(|g| {
                [&g.mesh_vertices, &g.mesh_indices, &g.mesh_edges, &g.spheres, &g.tubes, &g.points, &g.point_colors]
                    .into_iter()
                    .map(size)
                    .sum::<u64>()
            })
            .sum()
    }

    /// Nodes with GPU data.
    pub fn gpu_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Brings GPU data in line with `view` (a scene at a frame; a `&Scene` is
    /// the scene at its playhead): builds or updates nodes whose data or shown
    /// frame changed, frees deleted ones. Returns whether anything changed.
    pub fn prepare<'a>(&mut self, view: impl Into<SceneView<'a>>) -> bool {
        let SceneView { scene, frame: current } = view.into();
        if scene.instance() != self.scene_instance {
            self.nodes.clear();
            self.scene_instance = scene.instance();
        }
        let before = self.nodes.len();
        self.nodes.retain(|id, _| scene.node(*id).is_some());
        let mut changed = self.nodes.len() != before;
        if self.selected != scene.selected() {
            self.selected = scene.selected();
            changed = true;
        }
        for node in scene.nodes() {
            let frame = node.frame_for(current);
            let key = (node.version, frame);
            let gpu = match self.nodes.get_mut(&node.id) {
                Some(g) if g.key == key => continue,
                Some(g) => g,
                None => {
                    let (uniform, bind_group) = Self::node_uniform(&self.device, &self.node_layout);
                    self.nodes.entry(node.id).or_insert(GpuNode {
                        key,
                        enabled: node.enabled,
                        uniform,
                        bind_group,
                        mesh_vertices: None,
                        mesh_indices: None,
                        mesh_edges: None,
                        spheres: None,
                        tubes: None,
                        points: None,
                        point_colors: None,
                        point_chunks: Vec::new(),
                        bounds: None,
                        translucent: false,
                    })
                }
            };
            changed = true;
            let _span = tracing::trace_span!("prepare node", id = node.id).entered();
            let geom = extract(node, frame);
            let model = node_transform(node, frame);
            let (dev, q) = (&self.device, &self.queue);
            use wgpu::BufferUsages as U;
            match &geom.mesh {
                Some(m) => {
                    upload(dev, q, &mut gpu.mesh_vertices, &m.vertices, U::VERTEX, "mesh vertices");
                    upload(dev, q, &mut gpu.mesh_indices, &m.indices, U::INDEX, "mesh indices");
                    upload(dev, q, &mut gpu.mesh_edges, &m.edges, U::INDEX, "mesh edges");
                }
                None => (gpu.mesh_vertices, gpu.mesh_indices, gpu.mesh_edges) = (None, None, None),
            }
            upload(dev, q, &mut gpu.spheres, &geom.spheres, U::VERTEX, "sphere instances");
            upload(dev, q, &mut gpu.tubes, &geom.tubes, U::VERTEX, "tube instances");
            // Straight from the scene's arrays: positions as float32 xyz, colors as RGBA8.
            let cloud = geom.points.as_ref();
            let usage = if self.caps.tier == Tier::Full { U::STORAGE } else { U::VERTEX };
            upload(dev, q, &mut gpu.points, cloud.map_or(&[][..], |p| p.positions()), usage, "points");
            let colors = cloud.and_then(|p| p.colors()).unwrap_or(&[]);
            upload(dev, q, &mut gpu.point_colors, colors, usage, "point colors");
            gpu.point_chunks = match &self.pipelines.points {
                PointPipelines::Storage { layout, no_colors, .. } => {
                    point_chunks(dev, layout, no_colors, gpu.points.as_ref(), gpu.point_colors.as_ref())
                }
                PointPipelines::Instanced { .. } => Vec::new(),
            };
            let has_colors = if gpu.point_colors.is_some() { 1.0 } else { 0.0 };
            let params = match cloud {
                Some(p) if p.world => [p.size * node.scale, 1.0, has_colors, 0.0],
                Some(p) => [p.size, 0.0, has_colors, 0.0],
                None => [0.0; 4],
            };
            let normal = model.inverse().transpose();
            let flags = [
                u32::from(node.style.flat_shading),
                u32::from(geom.mesh.as_ref().is_some_and(|m| m.vertex_colors)),
                pick_id(node.id),
                0,
            ];
            let u = NodeUniform {
                model: model.to_cols_array_2d(),
                normal_mat: normal.to_cols_array_2d(),
                color: node.color,
                flags,
                params,
            };
            q.write_buffer(&gpu.uniform, 0, bytemuck::bytes_of(&u));
            gpu.bounds = geom.bounds.map(|(lo, hi)| transform_aabb(&model, lo, hi));
            gpu.translucent = translucent(&geom, node.color[3]);
            gpu.enabled = node.enabled;
            gpu.key = key;
        }
        changed
    }

    /// World-space bounds of the enabled nodes (or of `only`).
    pub fn world_bounds(&self, only: Option<NodeId>) -> Option<(Vec3, Vec3)> {
        self.nodes
            .iter()
            .filter(|(id, g)| only.map_or(g.enabled, |o| **id == o))
            .filter_map(|(_, g)| g.bounds)
            .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
    }

    /// Display-space bounds, what [`Camera::fit`] takes.
    pub fn display_bounds(&self, only: Option<NodeId>) -> Option<(Vec3, Vec3)> {
        let (lo, hi) = self.world_bounds(only)?;
        Some(transform_aabb(&world_to_display(self.options.z_up), lo, hi))
    }

    /// The node whose pick id is `id` (as read from the target's id texture).
    pub fn node_for_pick(&self, id: u32) -> Option<NodeId> {
        if id == 0 {
            return None;
        }
        self.nodes.keys().copied().find(|n| pick_id(*n) == id)
    }

    fn update_grid(&mut self) {
        // Spacing follows the scene's size: 1 unit for a body-sized scene, 10 for a room.
        let extent =
            self.display_bounds(None).map_or(1.0, |(lo, hi)| lo.abs().max(hi.abs()).max_element()).clamp(1e-3, 1e7);
        let spacing = 10f32.powf((extent / 5.0).log10().ceil()).max(1e-3);
        // The ground: under everything shown (at 0 unless data goes lower), as
        // far as the grid fades out. The grid lies on it (a grid left at 0 would
        // cut through whatever stands lower, drawn over its lower part), a hair
        // below the lowest data (a flat floor there covers it rather than
        // fighting it over depth), and the plane a hair below the grid.
        let height = self.display_bounds(None).map_or(0.0, |(lo, _)| lo.y.min(0.0));
        // Grid and ground vertices are in display space (y up, whatever
        // `z_up`) around y = 0; their model lifts them to `height` and undoes
        // the world_to_display every vertex shader applies, so data moving
        // below 0 rewrites this uniform, never the vertices.
        let model = world_to_display(self.options.z_up).inverse() * Mat4::from_translation(Vec3::Y * height);
        let u = NodeUniform {
            model: model.to_cols_array_2d(),
            normal_mat: Mat4::IDENTITY.to_cols_array_2d(),
            color: [0.0; 4],
            flags: [0; 4],
            params: [0.0; 4],
        };
        self.queue.write_buffer(&self.grid.uniform, 0, bytemuck::bytes_of(&u));
        if spacing == self.grid.spacing && self.grid.vertices.is_some() && self.ground.is_some() {
            return;
        }
        let half = GRID_LINES as f32 * spacing;
        let y = -spacing * 1e-3;
        let corners = [[-half, y, -half], [half, y, -half], [half, y, half], [-half, y, half]];
        let quad: Vec<LineVertex> =
            [0, 1, 2, 0, 2, 3].iter().map(|&i| LineVertex { position: corners[i], color: [0.0; 4] }).collect();
        upload(&self.device, &self.queue, &mut self.ground, &quad, wgpu::BufferUsages::VERTEX, "ground");
        let y = -spacing * 4e-4;
        let n = GRID_LINES as i32;
        let mut verts = Vec::with_capacity((n as usize * 2 + 1) * n as usize * 8);
        for i in -n..=n {
            let t = i as f32 * spacing;
            let color = match i {
                0 => [0.45, 0.45, 0.5, 1.0],
                _ if i % 5 == 0 => [0.3, 0.3, 0.33, 1.0],
                _ => [0.22, 0.22, 0.25, 1.0],
            };
            // Each line in cells-long segments, not one segment from edge to
            // edge: a line that passes behind the camera must be clipped at
            // the near plane, and some rasterisers (SwiftShader, Chromium's
            // software WebGPU and WebGL2) drop such a line whole.
            for k in -n..n {
                let (a, b) = (k as f32 * spacing, (k + 1) as f32 * spacing);
                for p in [[t, y, a], [t, y, b], [a, y, t], [b, y, t]] {
                    verts.push(LineVertex { position: p, color });
                }
            }
        }
        upload(&self.device, &self.queue, &mut self.grid.vertices, &verts, wgpu::BufferUsages::VERTEX, "grid");
        self.grid.spacing = spacing;
    }

    fn write_globals(&mut self, target: &RenderTarget, camera: &Camera) {
        let view = camera.view();
        let aspect = target.width as f32 / target.height as f32;
        // A headlight from above-left of the camera, so faces facing different ways differ.
        let light = view.inverse().transform_vector3(Vec3::new(-0.35, 0.6, 1.0)).normalize();
        let [r, g, b] = self.options.background.map(srgb_to_linear);
        let proj = camera.projection(aspect);
        let (light_view_proj, shadow) = self.shadow_frame();
        let ground = self.options.background.map(|c| srgb_to_linear((c * 1.15 + 0.1).min(1.0)));
        let globals = Globals {
            viewport: [target.width as f32, target.height as f32, proj.y_axis.y, 0.0],
            view_proj: (proj * view).to_cols_array_2d(),
            eye: camera.eye().extend(1.0).into(),
            light: Vec4::from((light, self.options.ambient.clamp(0.0, 1.0))).into(),
            world_to_display: world_to_display(self.options.z_up).to_cols_array_2d(),
            fog: [r, g, b, GRID_LINES as f32 * self.grid.spacing],
            light_view_proj: light_view_proj.to_cols_array_2d(),
            key: KEY_LIGHT.normalize().extend(KEY_STRENGTH).into(),
            shadow,
            sky: [1.05, 1.05, 1.1, 0.0],
            ground_bounce: [0.42, 0.4, 0.38, 0.0],
            ground: [ground[0], ground[1], ground[2], 0.0],
        };
        self.queue.write_buffer(&self.globals, 0, bytemuck::bytes_of(&globals));
        if shadow[0] > 0.0 {
            let shadow_globals = Globals { view_proj: globals.light_view_proj, ..globals };
            self.queue.write_buffer(&self.shadow_globals, 0, bytemuck::bytes_of(&shadow_globals));
        }
    }

    /// The key light's view-projection (an orthographic box around the shown
    /// data and the ground under it) and the shader's shadow parameters; off
    /// when shadows are off or nothing is shown.
    fn shadow_frame(&self) -> (Mat4, [f32; 4]) {
        let bounds = self.display_bounds(None).filter(|_| self.options.shadows);
        let Some((mut lo, hi)) = bounds else { return (Mat4::IDENTITY, [0.0; 4]) };
        if self.options.ground {
            lo.y = lo.y.min(0.0);
        }
        let center = (lo + hi) * 0.5;
        let radius = ((hi - lo).length() * 0.5).max(1e-3);
        let dir = KEY_LIGHT.normalize();
        let view = Mat4::look_at_rh(center + dir * radius * 2.0, center, Vec3::Y);
        let proj = Mat4::orthographic_rh(-radius, radius, -radius, radius, radius * 0.5, radius * 3.5);
        let size = self.caps.shadow_map as f32;
        let texel_world = 2.0 * radius / size;
        (proj * view, [1.0, 1.0 / size, texel_world * 1.5, 1e-3])
    }

    /// Draws the opaque nodes' depth from the key light into the shadow map.
    fn render_shadow_map(&self, enc: &mut wgpu::CommandEncoder, stats: &mut FrameStats) {
        let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("shadow map"),
            color_attachments: &[],
            depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                view: &self.shadow_view,
                depth_ops: Some(wgpu::Operations { load: wgpu::LoadOp::Clear(1.0), store: wgpu::StoreOp::Store }),
                stencil_ops: None,
            }),
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        pass.set_bind_group(0, &self.shadow_bind_group, &[]);
        let p = &self.pipelines;
        for gpu in self.nodes.values().filter(|g| g.enabled && !g.translucent) {
            pass.set_bind_group(1, &gpu.bind_group, &[]);
            if let (Some(v), Some(i)) = (&gpu.mesh_vertices, &gpu.mesh_indices) {
                pass.set_pipeline(&p.shadow_mesh);
                pass.set_vertex_buffer(0, v.buffer.slice(..));
                pass.set_index_buffer(i.buffer.slice(..), wgpu::IndexFormat::Uint32);
                pass.draw_indexed(0..i.count, 0, 0..1);
                stats.draw_calls += 1;
            }
            if let Some(s) = &gpu.spheres {
                let shape = if s.count > COARSE_SPHERES { &self.sphere_coarsest } else { &self.sphere_coarse };
                pass.set_pipeline(&p.shadow_sphere);
                draw_instanced(&mut pass, shape, s, stats);
            }
            if let Some(t) = &gpu.tubes {
                pass.set_pipeline(&p.shadow_tube);
                draw_instanced(&mut pass, &self.tube, t, stats);
            }
        }
    }

    /// Darkens the resolved image where the depth buffer shows occluders
    /// near a pixel (within 6 % of the scene's size).
    fn render_ssao(&self, enc: &mut wgpu::CommandEncoder, target: &RenderTarget, camera: &Camera) {
        let Some((pipeline, layout)) = &self.pipelines.ssao else { return };
        let Some((lo, hi)) = self.display_bounds(None) else { return };
        let radius = ((hi - lo).length() * 0.06).max(1e-4);
        let (near, far) = camera.clip_planes();
        let proj = camera.projection(target.width as f32 / target.height as f32);
        let params: [f32; 8] = [near, far, proj.y_axis.y, target.height as f32, radius, 0.8, radius * 8.0, 0.0];
        self.queue.write_buffer(&self.ssao_params, 0, bytemuck::cast_slice(&params));
        let depth = target.depth_view.clone();
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("periscope ssao"),
            layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::TextureView(&depth) },
                wgpu::BindGroupEntry { binding: 1, resource: self.ssao_params.as_entire_binding() },
            ],
        });
        overlay_pass(enc, &target.color_view, "ssao", pipeline, &group);
    }

    /// Limited tier: copies the resolved image into the target's plain
    /// texture that egui shows (`color_view_linear`).
    fn render_encode(&self, enc: &mut wgpu::CommandEncoder, target: &RenderTarget) {
        let Some((pipeline, layout)) = &self.pipelines.encode else { return };
        if target.tier == Tier::Full {
            return; // `color_view_linear` is a view of the image itself.
        }
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("periscope encode"),
            layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::TextureView(&target.color_view),
            }],
        });
        overlay_pass(enc, &target.color_view_linear, "encode", pipeline, &group);
    }

    /// The selected node's silhouette into the id texture, then its outline
    /// over the resolved image.
    fn render_outline(&self, enc: &mut wgpu::CommandEncoder, target: &RenderTarget, stats: &mut FrameStats) {
        let Some(gpu) = self.selected.and_then(|id| self.nodes.get(&id)).filter(|g| g.enabled) else { return };
        {
            let mut pass = begin_id_pass(enc, target, "outline mask");
            pass.set_bind_group(0, &self.globals_bind_group, &[]);
            self.draw_node(&mut pass, gpu, Pass::Pick, stats);
        }
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("periscope outline"),
            layout: &self.outline_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::TextureView(&target.id_view),
            }],
        });
        overlay_pass(enc, &target.color_view, "outline", &self.pipelines.outline, &group);
        stats.draw_calls += 1;
    }

    /// Sets the remote-rendered images drawn into the view, composited by
    /// depth; images already uploaded (the same `Arc`) are kept.
    pub fn set_backgrounds(&mut self, list: &[std::sync::Arc<crate::Background>]) {
        self.backgrounds.set(&self.device, &self.queue, list);
    }

    /// Draws the prepared scene from `camera` into `target` and submits it.
    /// Options the device cannot draw ([`Self::capabilities`]) are skipped.
    pub fn render(&mut self, target: &RenderTarget, camera: &Camera) {
        let _span = tracing::trace_span!("render").entered();
        let options = self.caps.effective(&self.options);
        if self.options.grid || self.options.ground {
            self.update_grid();
        }
        self.write_globals(target, camera);
        if !self.backgrounds.is_empty() {
            let aspect = target.width as f32 / target.height as f32;
            self.backgrounds.prepare(&self.queue, camera.projection(aspect) * camera.view());
        }
        let mut enc = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("scene") });
        let mut stats = FrameStats::default();
        let shadows = options.shadows && self.display_bounds(None).is_some();
        if shadows {
            self.render_shadow_map(&mut enc, &mut stats);
        }
        {
            let [r, g, b] = self.options.background.map(|c| f64::from(srgb_to_linear(c)));
            let color = wgpu::RenderPassColorAttachment {
                view: &target.msaa_view,
                depth_slice: None,
                resolve_target: Some(&target.color_view),
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color { r, g, b, a: 1.0 }),
                    // Only the resolved image is kept.
                    store: wgpu::StoreOp::Discard,
                },
            };
            let keep_depth = options.ssao;
            let mut pass = begin_pass(&mut enc, "scene", color, &target.depth_view, keep_depth);
            stats.draw_calls += self.backgrounds.draw(&mut pass);
            pass.set_bind_group(0, &self.globals_bind_group, &[]);
            if self.options.ground
                && let Some(v) = &self.ground
            {
                pass.set_pipeline(&self.pipelines.ground);
                pass.set_bind_group(1, &self.grid.bind_group, &[]);
                pass.set_vertex_buffer(0, v.buffer.slice(..));
                pass.draw(0..v.count, 0..1);
                stats.draw_calls += 1;
            }
            if self.options.grid
                && let Some(v) = &self.grid.vertices
            {
                pass.set_pipeline(&self.pipelines.grid);
                pass.set_bind_group(1, &self.grid.bind_group, &[]);
                pass.set_vertex_buffer(0, v.buffer.slice(..));
                pass.draw(0..v.count, 0..1);
                stats.draw_calls += 1;
            }
            self.draw_nodes(&mut pass, Pass::Color, &mut stats, camera.eye());
        }
        if options.ssao {
            self.render_ssao(&mut enc, target, camera);
        }
        if options.outline {
            self.render_outline(&mut enc, target, &mut stats);
        }
        self.render_encode(&mut enc, target);
        self.queue.submit([enc.finish()]);
        self.stats = stats;
    }

    /// Draws node ids into `target`'s pick texture, for [`RenderTarget::read_id`].
    /// Only needed when the user clicks, so it is not part of [`Self::render`].
    pub fn render_pick(&mut self, target: &RenderTarget, camera: &Camera) {
        self.write_globals(target, camera);
        let mut enc = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("pick") });
        {
            let mut pass = begin_id_pass(&mut enc, target, "pick");
            pass.set_bind_group(0, &self.globals_bind_group, &[]);
            self.draw_nodes(&mut pass, Pass::Pick, &mut FrameStats::default(), camera.eye());
        }
        self.queue.submit([enc.finish()]);
    }

    /// Opaque nodes first, then translucent ones from far to near (sorted by
    /// the distance of their bounds' centre from the eye; the triangles of one
    /// node are not sorted). The pick pass draws every node opaque.
    fn draw_nodes(&self, pass: &mut wgpu::RenderPass<'_>, which: Pass, stats: &mut FrameStats, eye: Vec3) {
        let enabled = || self.nodes.values().filter(|g| g.enabled);
        if which == Pass::Pick {
            for gpu in enabled() {
                self.draw_node(pass, gpu, Pass::Pick, stats);
            }
            return;
        }
        for gpu in enabled().filter(|g| !g.translucent) {
            self.draw_node(pass, gpu, Pass::Color, stats);
        }
        let mut translucent: Vec<(f32, &GpuNode)> = enabled()
            .filter(|g| g.translucent)
            .map(|g| (g.bounds.map_or(0.0, |(lo, hi)| ((lo + hi) * 0.5).distance_squared(eye)), g))
            .collect();
        translucent.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (_, gpu) in translucent {
            self.draw_node(pass, gpu, Pass::Blend, stats);
        }
    }

    fn draw_node(&self, pass: &mut wgpu::RenderPass<'_>, gpu: &GpuNode, which: Pass, stats: &mut FrameStats) {
        let p = &self.pipelines;
        let (mesh, sphere, tube) = match which {
            Pass::Color => (&p.mesh, &p.sphere, &p.tube),
            Pass::Blend => (&p.blend_mesh, &p.blend_sphere, &p.blend_tube),
            Pass::Pick => (&p.pick_mesh, &p.pick_sphere, &p.pick_tube),
        };
        pass.set_bind_group(1, &gpu.bind_group, &[]);
        if let (Some(v), Some(i)) = (&gpu.mesh_vertices, &gpu.mesh_indices) {
            pass.set_pipeline(mesh);
            pass.set_vertex_buffer(0, v.buffer.slice(..));
            pass.set_index_buffer(i.buffer.slice(..), wgpu::IndexFormat::Uint32);
            pass.draw_indexed(0..i.count, 0, 0..1);
            stats.draw_calls += 1;
            stats.triangles += u64::from(i.count / 3);
            if which != Pass::Pick
                && let Some(e) = &gpu.mesh_edges
            {
                pass.set_pipeline(&p.edges);
                pass.set_index_buffer(e.buffer.slice(..), wgpu::IndexFormat::Uint32);
                pass.draw_indexed(0..e.count, 0, 0..1);
                stats.draw_calls += 1;
            }
        }
        if let Some(s) = &gpu.spheres {
            let shape = match s.count {
                n if n > COARSEST_SPHERES => &self.sphere_coarsest,
                n if n > COARSE_SPHERES => &self.sphere_coarse,
                _ => &self.sphere,
            };
            pass.set_pipeline(sphere);
            draw_instanced(pass, shape, s, stats);
        }
        if let Some(t) = &gpu.tubes {
            pass.set_pipeline(tube);
            draw_instanced(pass, &self.tube, t, stats);
        }
        match &p.points {
            PointPipelines::Storage { pipelines, .. } => {
                if !gpu.point_chunks.is_empty() {
                    pass.set_pipeline(&pipelines[which as usize]);
                }
                for (group, n) in &gpu.point_chunks {
                    pass.set_bind_group(2, group, &[]);
                    // Six corners (two triangles) per point.
                    pass.draw(0..6 * n, 0..1);
                    stats.draw_calls += 1;
                    stats.triangles += 2 * u64::from(*n);
                }
            }
            PointPipelines::Instanced { colored, plain } => {
                if let Some(points) = &gpu.points {
                    let n = points.count / 3;
                    pass.set_vertex_buffer(0, points.buffer.slice(..));
                    match &gpu.point_colors {
                        Some(c) => {
                            pass.set_pipeline(&colored[which as usize]);
                            pass.set_vertex_buffer(1, c.buffer.slice(..));
                        }
                        None => pass.set_pipeline(&plain[which as usize]),
                    }
                    // One instance of six corners (two triangles) per point.
                    pass.draw(0..6, 0..n);
                    stats.draw_calls += 1;
                    stats.triangles += 2 * u64::from(n);
                }
            }
        }
    }
}

/// The scene shader for `tier`: the limited tier's source declares no storage
/// buffers (naga's GLSL ES 3.0 output for WebGL2 refuses a module with them,
/// used or not).
pub(crate) fn scene_shader(tier: Tier) -> String {
    let points = match tier {
        Tier::Full => include_str!("shaders/points_storage.wgsl"),
        Tier::Limited => include_str!("shaders/points_instanced.wgsl"),
    };
    format!("{}\n{points}", include_str!("shaders/scene.wgsl"))
}

/// The three point pipelines (color, blend, pick) of one vertex entry point.
fn point_pipelines(
    device: &wgpu::Device,
    shader: &wgpu::ShaderModule,
    layout: &wgpu::PipelineLayout,
    vs: &str,
    buffers: &[Option<wgpu::VertexBufferLayout<'_>>],
) -> [wgpu::RenderPipeline; 3] {
    [(Pass::Color, "fs_point"), (Pass::Blend, "fs_point"), (Pass::Pick, "fs_point_pick")].map(|(pass, fs)| {
        let (format, samples, blend, depth_write) = pass.target();
        crate::pipeline::build(
            device,
            &crate::pipeline::PipelineDesc {
                label: "periscope points",
                layout,
                shader,
                vs,
                fs,
                buffers,
                topology: wgpu::PrimitiveTopology::TriangleList,
                cull: None,
                format,
                samples,
                blend,
                depth_write,
            },
        )
    })
}

/// Full tier: point clouds pull their points from storage buffers (group 2):
/// one plain draw of 6 vertices per point, which software rasterizers run in
/// large batches (an instanced draw of 6 vertices each is run instance by
/// instance there).
fn point_storage_pipelines(
    device: &wgpu::Device,
    shader: &wgpu::ShaderModule,
    globals_layout: &wgpu::BindGroupLayout,
    node_layout: &wgpu::BindGroupLayout,
) -> PointPipelines {
    let storage = |binding| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::VERTEX,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only: true },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("periscope points"),
        entries: &[storage(0), storage(1)],
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("periscope points"),
        bind_group_layouts: &[Some(globals_layout), Some(node_layout), Some(&layout)],
        immediate_size: 0,
    });
    let pipelines = point_pipelines(device, shader, &pipeline_layout, "vs_point", &[]);
    // Bound for clouds without colors (the shader then uses the node's color).
    let no_colors = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("periscope no point colors"),
        size: 4,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    PointPipelines::Storage { pipelines, layout, no_colors }
}

/// Limited tier: one instance per point, xyz (float32) and RGBA8 as
/// per-instance attributes straight from the same arrays (16 bytes a point).
fn point_instanced_pipelines(
    device: &wgpu::Device,
    shader: &wgpu::ShaderModule,
    layout: &wgpu::PipelineLayout,
) -> PointPipelines {
    let position_attrs = wgpu::vertex_attr_array![0 => Float32x3];
    let position = wgpu::VertexBufferLayout {
        array_stride: 12,
        step_mode: wgpu::VertexStepMode::Instance,
        attributes: &position_attrs,
    };
    let color_attrs = wgpu::vertex_attr_array![1 => Unorm8x4];
    let color = wgpu::VertexBufferLayout {
        array_stride: 4,
        step_mode: wgpu::VertexStepMode::Instance,
        attributes: &color_attrs,
    };
    PointPipelines::Instanced {
        colored: point_pipelines(device, shader, layout, "vs_point_instanced", &[Some(position.clone()), Some(color)]),
        plain: point_pipelines(device, shader, layout, "vs_point_instanced_plain", &[Some(position)]),
    }
}

fn binding(buffer: &wgpu::Buffer, offset: usize, size: usize) -> wgpu::BindingResource<'_> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer,
        offset: offset as u64,
        size: std::num::NonZeroU64::new(size as u64),
    })
}

/// A cloud's bind groups: positions and colors of up to [`POINT_CHUNK`]
/// points each.
fn point_chunks(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    no_colors: &wgpu::Buffer,
    points: Option<&GrowBuffer>,
    colors: Option<&GrowBuffer>,
) -> Vec<(wgpu::BindGroup, u32)> {
    let Some(points) = points else { return Vec::new() };
    let n = points.count as usize / 3;
    (0..n)
        .step_by(POINT_CHUNK)
        .map(|start| {
            let count = POINT_CHUNK.min(n - start);
            let color = match colors {
                Some(c) => binding(&c.buffer, start * 4, count * 4),
                None => no_colors.as_entire_binding(),
            };
            let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("periscope points"),
                layout,
                entries: &[
                    wgpu::BindGroupEntry { binding: 0, resource: binding(&points.buffer, start * 12, count * 12) },
                    wgpu::BindGroupEntry { binding: 1, resource: color },
                ],
            });
            (group, count as u32)
        })
        .collect()
}

/// Whether any color the node draws has alpha below 1. Instance colors with a
/// negative alpha stand for the node's color (see the shader's `instance_color`).
fn translucent(geom: &crate::extract::NodeGeometry, node_alpha: f32) -> bool {
    const OPAQUE: f32 = 0.999;
    let instance = |a: f32| if a < 0.0 { node_alpha < OPAQUE } else { a < OPAQUE };
    let mesh = geom.mesh.as_ref().is_some_and(|m| {
        if m.vertex_colors { m.vertices.iter().any(|v| v.color[3] < 255) } else { node_alpha < OPAQUE }
    });
    let points = geom.points.as_ref().is_some_and(|p| match p.colors() {
        Some(c) => c.iter().any(|c| c.to_ne_bytes()[3] < 255),
        None => node_alpha < OPAQUE,
    });
    mesh || points
        || geom.spheres.iter().any(|s| instance(s.color[3]))
        || geom.tubes.iter().any(|t| instance(t.color[3]))
}

/// A render pass with one color attachment and a cleared depth buffer that is not kept.
fn begin_pass<'e>(
    enc: &'e mut wgpu::CommandEncoder,
    label: &str,
    color: wgpu::RenderPassColorAttachment<'e>,
    depth: &'e wgpu::TextureView,
    keep_depth: bool,
) -> wgpu::RenderPass<'e> {
    let store = if keep_depth { wgpu::StoreOp::Store } else { wgpu::StoreOp::Discard };
    enc.begin_render_pass(&wgpu::RenderPassDescriptor {
        label: Some(label),
        color_attachments: &[Some(color)],
        depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
            view: depth,
            depth_ops: Some(wgpu::Operations { load: wgpu::LoadOp::Clear(1.0), store }),
            stencil_ops: None,
        }),
        timestamp_writes: None,
        occlusion_query_set: None,
        multiview_mask: None,
    })
}

/// A pass drawing node ids into `target`'s (cleared) id texture: picking and
/// the selection outline's silhouette.
fn begin_id_pass<'e>(enc: &'e mut wgpu::CommandEncoder, target: &'e RenderTarget, label: &str) -> wgpu::RenderPass<'e> {
    let ids = wgpu::RenderPassColorAttachment {
        view: &target.id_view,
        depth_slice: None,
        resolve_target: None,
        ops: wgpu::Operations { load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT), store: wgpu::StoreOp::Store },
    };
    begin_pass(enc, label, ids, &target.pick_depth_view, false)
}

/// One full-screen triangle with `pipeline` over `view` (the outline and
/// ambient occlusion passes over the resolved image; the limited tier's copy).
fn overlay_pass(
    enc: &mut wgpu::CommandEncoder,
    view: &wgpu::TextureView,
    label: &str,
    pipeline: &wgpu::RenderPipeline,
    group: &wgpu::BindGroup,
) {
    let mut pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
        label: Some(label),
        color_attachments: &[Some(wgpu::RenderPassColorAttachment {
            view,
            depth_slice: None,
            resolve_target: None,
            ops: wgpu::Operations { load: wgpu::LoadOp::Load, store: wgpu::StoreOp::Store },
        })],
        depth_stencil_attachment: None,
        timestamp_writes: None,
        occlusion_query_set: None,
        multiview_mask: None,
    });
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, group, &[]);
    pass.draw(0..3, 0..1);
}

fn draw_instanced(pass: &mut wgpu::RenderPass<'_>, shape: &GpuShape, inst: &GrowBuffer, stats: &mut FrameStats) {
    pass.set_vertex_buffer(0, shape.vertices.slice(..));
    pass.set_vertex_buffer(1, inst.buffer.slice(..));
    pass.set_index_buffer(shape.indices.slice(..), wgpu::IndexFormat::Uint32);
    pass.draw_indexed(0..shape.n_indices, 0, 0..inst.count);
    stats.draw_calls += 1;
    stats.triangles += u64::from(shape.n_indices / 3) * u64::from(inst.count);
}

/// The axis-aligned box around a transformed box.
fn transform_aabb(m: &Mat4, lo: Vec3, hi: Vec3) -> (Vec3, Vec3) {
    let mut out = (Vec3::splat(f32::INFINITY), Vec3::splat(f32::NEG_INFINITY));
    for i in 0..8 {
        let c = Vec3::new(
            if i & 1 == 0 { lo.x } else { hi.x },
            if i & 2 == 0 { lo.y } else { hi.y },
            if i & 4 == 0 { lo.z } else { hi.z },
        );
        let p = m.transform_point3(c);
        out = (out.0.min(p), out.1.max(p));
    }
    out
}

/// The clear color is given in sRGB; the target stores sRGB but clears take linear values.
fn srgb_to_linear(c: f32) -> f32 {
    if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
}
