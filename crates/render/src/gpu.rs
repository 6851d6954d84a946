//! [`Gpu`]: the wgpu instance, adapter, device and queue; [`Screen`]: a surface
//! (a canvas in the browser) configured for drawing.
//!
//! In the browser the backend is chosen at run time: WebGPU when `navigator.gpu`
//! yields an adapter, else WebGL2 (`wgpu::util::new_instance_with_webgpu_detection`).

use crate::RenderError;

/// The graphics API in use, as shown in the viewer's About panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    WebGpu,
    WebGl2,
    Vulkan,
    Other,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::WebGpu => "WebGPU",
            Backend::WebGl2 => "WebGL2",
            Backend::Vulkan => "Vulkan",
            Backend::Other => "other",
        }
    }

    fn of(b: wgpu::Backend) -> Backend {
        match b {
            wgpu::Backend::BrowserWebGpu => Backend::WebGpu,
            wgpu::Backend::Gl if cfg!(target_arch = "wasm32") => Backend::WebGl2,
            wgpu::Backend::Vulkan => Backend::Vulkan,
            _ => Backend::Other,
        }
    }
}

/// An opened graphics device.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub backend: Backend,
    /// The adapter's name (e.g. "SwiftShader Device", "llvmpipe").
    pub adapter_name: String,
    /// Largest 2D texture side this device accepts.
    pub max_texture_side: u32,
}

/// A surface configured for drawing (the viewer's canvas).
pub struct Screen {
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
}

impl Gpu {
    /// Opens a device that can draw into `target` (in the browser: a canvas) and
    /// configures it at `width`×`height` physical pixels. `webgl_only` skips WebGPU
    /// even where the browser offers it.
    pub async fn for_surface(
        target: wgpu::SurfaceTarget<'static>,
        width: u32,
        height: u32,
        webgl_only: bool,
    ) -> Result<(Gpu, Screen), RenderError> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = if webgl_only {
            wgpu::Backends::GL
        } else {
            wgpu::Backends::BROWSER_WEBGPU | wgpu::Backends::GL | wgpu::Backends::VULKAN
        };
        let instance = wgpu::util::new_instance_with_webgpu_detection(desc).await;
        let surface = instance
            .create_surface(target)
            .map_err(|e| RenderError::Surface(e.to_string()))?;
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: Some(&surface),
                ..Default::default()
            })
            .await
            .map_err(|e| RenderError::NoAdapter(e.to_string()))?;
        let gpu = Gpu::open(&adapter).await?;
        let caps = surface.get_capabilities(&adapter);
        // A non-sRGB format shows the shader's gray values as written; with an sRGB
        // format the shader linearises them first (ViewUniform::srgb_target).
        let format = caps
            .formats
            .iter()
            .copied()
            .find(|f| !f.is_srgb())
            .or_else(|| caps.formats.first().copied())
            .ok_or_else(|| RenderError::Surface("the surface offers no format".into()))?;
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            format,
            color_space: wgpu::SurfaceColorSpace::Auto,
            width: width.max(1),
            height: height.max(1),
            desired_maximum_frame_latency: 2,
            present_mode: wgpu::PresentMode::Fifo,
            alpha_mode: caps
                .alpha_modes
                .first()
                .copied()
                .unwrap_or(wgpu::CompositeAlphaMode::Auto),
            view_formats: vec![],
        };
        surface.configure(&gpu.device, &config);
        Ok((gpu, Screen { surface, config }))
    }

    /// Opens a device with no surface (native golden-image tests).
    pub async fn headless() -> Result<Gpu, RenderError> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = wgpu::Backends::all();
        let instance = wgpu::Instance::new(desc);
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions::default())
            .await
            .map_err(|e| RenderError::NoAdapter(e.to_string()))?;
        Gpu::open(&adapter).await
    }

    async fn open(adapter: &wgpu::Adapter) -> Result<Gpu, RenderError> {
        let info = adapter.get_info();
        let backend = Backend::of(info.backend);
        let base = if info.backend == wgpu::Backend::Gl {
            wgpu::Limits::downlevel_webgl2_defaults()
        } else {
            wgpu::Limits::downlevel_defaults()
        };
        let limits = base.using_resolution(adapter.limits());
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("rangsi"),
                required_features: wgpu::Features::empty(),
                required_limits: limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::MemoryUsage,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| RenderError::Device(e.to_string()))?;
        Ok(Gpu {
            device,
            queue,
            backend,
            adapter_name: info.name,
            max_texture_side: limits.max_texture_dimension_2d,
        })
    }
}

impl Screen {
    pub fn format(&self) -> wgpu::TextureFormat {
        self.config.format
    }

    pub fn size(&self) -> [u32; 2] {
        [self.config.width, self.config.height]
    }

    /// Reconfigures after the canvas changed size (physical pixels).
    pub fn resize(&mut self, gpu: &Gpu, width: u32, height: u32) {
        let (width, height) = (width.max(1), height.max(1));
        if [width, height] != self.size() {
            self.config.width = width;
            self.config.height = height;
            self.surface.configure(&gpu.device, &self.config);
        }
    }

    /// The next texture to draw into, or `None` when this frame must be skipped
    /// (reconfigures when the surface went out of date).
    pub fn next_texture(&mut self, gpu: &Gpu) -> Option<wgpu::SurfaceTexture> {
        match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t) => Some(t),
            wgpu::CurrentSurfaceTexture::Suboptimal(t) => Some(t),
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                self.surface.configure(&gpu.device, &self.config);
                None
            }
            _ => None,
        }
    }
}
