// Periscope's scene shader: meshes, instanced spheres and tubes, lines.
// Every pipeline writes a color and the picked node's id (0 = nothing).

struct Globals {
    view_proj: mat4x4<f32>,
    // Display-space camera position (xyz).
    eye: vec4<f32>,
    // Direction *towards* the light, display space (xyz), ambient in w.
    light: vec4<f32>,
    // World -> display rotation (identity unless z_up).
    world_to_display: mat4x4<f32>,
    // Background (linear rgb) the ground grid fades into, and the fade radius (w).
    fog: vec4<f32>,
    // Target width, height (pixels), the projection's y scale, unused.
    viewport: vec4<f32>,
    // Display space -> the key light's shadow map (clip space).
    light_view_proj: mat4x4<f32>,
    // Direction *towards* the key light (xyz, display space), its strength (w).
    key: vec4<f32>,
    // x: 1 when shadows are on, y: one shadow-map texel in uv, z: normal
    // offset (display units), w: depth bias.
    shadow: vec4<f32>,
    // Hemisphere ambient: sky color (rgb, linear), w unused.
    sky: vec4<f32>,
    // Hemisphere ambient: ground bounce color (rgb, linear), w unused.
    ground_bounce: vec4<f32>,
    // The ground plane's color (rgb, linear), w unused.
    ground: vec4<f32>,
};

struct NodeUniform {
    model: mat4x4<f32>,
    // Inverse-transpose of the model's 3x3, for normals (columns in xyz).
    normal_mat: mat4x4<f32>,
    color: vec4<f32>,
    // x: flat shading, y: use vertex colors, z: pick id, w: unused.
    flags: vec4<u32>,
    // Point clouds: x sprite diameter, y 1 when in world units (else pixels),
    // z 1 when the points have their own colors.
    params: vec4<f32>,
};

@group(0) @binding(0) var<uniform> globals: Globals;
@group(0) @binding(1) var shadow_map: texture_depth_2d;
@group(0) @binding(2) var shadow_sampler: sampler_comparison;
@group(1) @binding(0) var<uniform> node: NodeUniform;

struct Lit {
    @builtin(position) clip: vec4<f32>,
    @location(0) world: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) color: vec4<f32>,
};

fn to_clip(local: vec3<f32>) -> vec4<f32> {
    return globals.view_proj * globals.world_to_display * node.model * vec4<f32>(local, 1.0);
}

fn to_display(local: vec3<f32>) -> vec3<f32> {
    return (globals.world_to_display * node.model * vec4<f32>(local, 1.0)).xyz;
}

fn normal_to_display(n: vec3<f32>) -> vec3<f32> {
    return (globals.world_to_display * vec4<f32>((node.normal_mat * vec4<f32>(n, 0.0)).xyz, 0.0)).xyz;
}

// Colors arrive sRGB-encoded (what users pick); lighting happens in linear space.
fn linear(c: vec4<f32>) -> vec4<f32> {
    let lo = c.rgb / 12.92;
    let hi = pow((c.rgb + vec3<f32>(0.055)) / 1.055, vec3<f32>(2.4));
    return vec4<f32>(select(hi, lo, c.rgb <= vec3<f32>(0.04045)), c.a);
}

// How much of the key light reaches `p` (display space, normal `n`): 1 lit,
// 0 in shadow; a 3x3 grid of hardware-filtered (2x2) comparisons 1.5 texels
// apart makes the edge soft. Outside the shadow map: lit.
fn key_light(p: vec3<f32>, n: vec3<f32>) -> f32 {
    if globals.shadow.x < 0.5 {
        return 1.0;
    }
    // Push the point along its normal by about a texel: no self-shadowing acne.
    let c = globals.light_view_proj * vec4<f32>(p + n * globals.shadow.z, 1.0);
    let ndc = c.xyz / c.w;
    let uv = vec2<f32>(ndc.x * 0.5 + 0.5, 0.5 - ndc.y * 0.5);
    if uv.x < 0.0 || uv.x > 1.0 || uv.y < 0.0 || uv.y > 1.0 || ndc.z > 1.0 {
        return 1.0;
    }
    let depth = ndc.z - globals.shadow.w;
    var lit = 0.0;
    for (var y = 0; y < 3; y++) {
        for (var x = 0; x < 3; x++) {
            let o = (vec2<f32>(f32(x), f32(y)) - vec2<f32>(1.0)) * 1.5 * globals.shadow.y;
            lit += textureSampleCompareLevel(shadow_map, shadow_sampler, uv + o, depth);
        }
    }
    return lit / 9.0;
}

// Sky light from above, light bounced off the ground from below.
fn hemisphere(n: vec3<f32>) -> vec3<f32> {
    return mix(globals.ground_bounce.rgb, globals.sky.rgb, n.y * 0.5 + 0.5);
}

fn shade(world: vec3<f32>, normal_in: vec3<f32>, base: vec4<f32>) -> vec4<f32> {
    // Derivatives must be taken in uniform control flow: always compute the face normal.
    let face = cross(dpdx(world), dpdy(world));
    var n = normal_in;
    if node.flags.x != 0u || dot(n, n) < 1e-12 {
        n = face;
    }
    n = normalize(n);
    let to_eye = normalize(globals.eye.xyz - world);
    // Two-sided lighting: open meshes look right from both sides.
    if dot(n, to_eye) < 0.0 {
        n = -n;
    }
    // A headlight (fill) so every face the camera sees is shaded, a key light
    // fixed in the scene that casts shadows, and hemisphere ambient.
    let l = normalize(globals.light.xyz);
    let ambient = globals.light.w;
    let fill = max(dot(n, l), 0.0);
    let k = normalize(globals.key.xyz);
    let shadow = key_light(world, n);
    let key = max(dot(n, k), 0.0) * shadow * globals.key.w;
    let h = normalize(l + to_eye);
    let spec = pow(max(dot(n, h), 0.0), 48.0) * 0.25 * mix(1.0, shadow, globals.key.w);
    let direct = (1.0 - ambient) * (fill * (1.0 - globals.key.w) + key);
    let rgb = base.rgb * (ambient * hemisphere(n) + direct) + vec3<f32>(spec);
    // Alpha is used by the blended (translucent) pipelines and ignored by the opaque ones.
    return vec4<f32>(rgb, base.a);
}

// ---- meshes -------------------------------------------------------------

struct MeshIn {
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) color: vec4<f32>,
};

@vertex
fn vs_mesh(v: MeshIn) -> Lit {
    var o: Lit;
    o.clip = to_clip(v.position);
    o.world = to_display(v.position);
    o.normal = normal_to_display(v.normal);
    o.color = linear(select(node.color, v.color, node.flags.y != 0u));
    return o;
}

@fragment
fn fs_lit(i: Lit) -> @location(0) vec4<f32> {
    return shade(i.world, i.normal, i.color);
}

// The pick pass: the node's id instead of a color (0 is the background).
@fragment
fn fs_pick(i: Lit) -> @location(0) u32 {
    return node.flags.z;
}

// Wireframe overlay: the mesh's edges, pulled slightly towards the camera.
@vertex
fn vs_edges(v: MeshIn) -> Lit {
    var o: Lit;
    let c = to_clip(v.position);
    o.clip = vec4<f32>(c.xy, c.z - 2e-4 * c.w, c.w);
    o.world = to_display(v.position);
    o.normal = vec3<f32>(0.0);
    o.color = linear(vec4<f32>(node.color.rgb * 0.25, 1.0));
    return o;
}

@fragment
fn fs_flat(i: Lit) -> @location(0) vec4<f32> {
    return i.color;
}

// ---- instanced spheres ---------------------------------------------------

struct UnitIn {
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
};

struct SphereIn {
    @location(2) center: vec3<f32>,
    @location(3) radius: f32,
    @location(4) color: vec4<f32>,
};

fn instance_color(c: vec4<f32>) -> vec4<f32> {
    return linear(select(c, node.color, c.a < 0.0));
}

@vertex
fn vs_sphere(v: UnitIn, s: SphereIn) -> Lit {
    let local = s.center + v.position * s.radius;
    var o: Lit;
    o.clip = to_clip(local);
    o.world = to_display(local);
    o.normal = normal_to_display(v.normal);
    o.color = instance_color(s.color);
    return o;
}

// ---- instanced tubes (cylinders, cones, tapered) ------------------------

struct TubeIn {
    @location(2) start: vec3<f32>,
    @location(3) r0: f32,
    @location(4) end: vec3<f32>,
    @location(5) r1: f32,
    @location(6) color: vec4<f32>,
};

@vertex
fn vs_tube(v: UnitIn, t: TubeIn) -> Lit {
    let d = t.end - t.start;
    let len = length(d);
    let z = select(vec3<f32>(0.0, 0.0, 1.0), d / max(len, 1e-20), len > 1e-20);
    // Any unit vector perpendicular to z, then complete the frame.
    let helper = select(vec3<f32>(1.0, 0.0, 0.0), vec3<f32>(0.0, 1.0, 0.0), abs(z.x) > 0.9);
    let x = normalize(cross(helper, z));
    let y = cross(z, x);
    // The unit tube has radius 1 and runs z = 0..1.
    let r = mix(t.r0, t.r1, v.position.z);
    let local_unit = vec3<f32>(v.position.xy * r, v.position.z * len);
    var n_unit = v.normal;
    if abs(v.normal.z) < 0.5 {
        // Side of a cone/taper: normal tilts by the radius change along the length.
        n_unit = vec3<f32>(v.normal.xy * len, t.r0 - t.r1);
    }
    let local = t.start + x * local_unit.x + y * local_unit.y + z * local_unit.z;
    let n_local = x * n_unit.x + y * n_unit.y + z * n_unit.z;
    var o: Lit;
    o.clip = to_clip(local);
    o.world = to_display(local);
    o.normal = normal_to_display(n_local);
    o.color = instance_color(t.color);
    return o;
}

// ---- plain colored lines (ground grid, axes) -----------------------------

struct LineIn {
    @location(0) position: vec3<f32>,
    @location(1) color: vec4<f32>,
};

@vertex
fn vs_line(v: LineIn) -> Lit {
    var o: Lit;
    o.clip = to_clip(v.position);
    o.world = to_display(v.position);
    o.normal = vec3<f32>(0.0);
    o.color = linear(v.color);
    return o;
}

// The ground grid fades into the background towards its edge (no aliasing at the horizon).
@fragment
fn fs_grid(i: Lit) -> @location(0) vec4<f32> {
    let r = length(i.world.xz);
    let f = smoothstep(0.35 * globals.fog.w, globals.fog.w, r);
    return vec4<f32>(mix(i.color.rgb, globals.fog.rgb, f), 1.0);
}

// The ground plane: lit from above, shadowed, fading into the background
// like the grid.
@fragment
fn fs_ground(i: Lit) -> @location(0) vec4<f32> {
    let up = vec3<f32>(0.0, 1.0, 0.0);
    let ambient = globals.light.w;
    let k = normalize(globals.key.xyz);
    let sun = max(dot(up, k), 0.0) * key_light(i.world, up);
    let lit = ambient * globals.sky.rgb + (1.0 - ambient) * mix(vec3<f32>(0.85), vec3<f32>(sun), globals.key.w);
    let f = smoothstep(0.35 * globals.fog.w, globals.fog.w, length(i.world.xz));
    return vec4<f32>(mix(globals.ground.rgb * lit, globals.fog.rgb, f), 1.0);
}

// ---- shadow map: depth only, seen from the key light -----------------------
// The vertex shaders above run with `globals.view_proj` = the light's matrix.

// ---- point clouds: one screen-facing sprite per point --------------------

struct PointOut {
    @builtin(position) clip: vec4<f32>,
    // Position in the sprite, -1..1 on both axes.
    @location(0) uv: vec2<f32>,
    @location(1) color: vec4<f32>,
};

fn point_vertex(corner_index: u32, center: vec3<f32>, color: vec4<f32>) -> PointOut {
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, 1.0), vec2<f32>(-1.0, 1.0),
    );
    let corner = corners[corner_index];
    let c = to_clip(center);
    let radius = 0.5 * node.params.x;
    var offset: vec2<f32>;
    if node.params.y > 0.5 {
        // World units: the projection scales them like the geometry around.
        let aspect = globals.viewport.x / max(globals.viewport.y, 1.0);
        offset = corner * radius * vec2<f32>(globals.viewport.z / aspect, globals.viewport.z);
    } else {
        // Pixels: 2 / size of the target per pixel in clip units, times w.
        offset = corner * radius * 2.0 / max(globals.viewport.xy, vec2<f32>(1.0)) * c.w;
    }
    var o: PointOut;
    o.clip = vec4<f32>(c.xy + offset, c.z, c.w);
    o.uv = corner;
    o.color = color;
    return o;
}

// Round sprites, slightly darker towards the rim so that dense clouds keep
// their shape.
@fragment
fn fs_point(i: PointOut) -> @location(0) vec4<f32> {
    let r2 = dot(i.uv, i.uv);
    if r2 > 1.0 {
        discard;
    }
    return vec4<f32>(i.color.rgb * (1.0 - 0.25 * r2), i.color.a);
}

@fragment
fn fs_point_pick(i: PointOut) -> @location(0) u32 {
    if dot(i.uv, i.uv) > 1.0 {
        discard;
    }
    return node.flags.z;
}
