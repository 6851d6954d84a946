//! rangsi-volume: from a series to a voxel grid with exact patient geometry, and the
//! math of MPR planes over it. Pure Rust, no I/O: used by the viewer (wasm32) and by
//! native tests as the oracle of the GPU renderer.
//!
//! - [`assemble`]: sort, check, split phases (4D), tilt and irregular spacing.
//! - [`geometry`]: `patient_from_voxel` / `voxel_from_patient` affines, LPS labels.
//! - [`mpr`]: view planes, crosshair lines, CPU reference sampling with slabs.
//! - [`json`]: [`SliceInfo`]s from DICOM JSON metadata (classic and Enhanced
//!   multi-frame with functional groups).
//! - [`vr`]: volume rendering — transfer functions and presets, the orbit camera,
//!   clip box and the CPU reference ray caster (MIP, composite, shading).
//! - [`synthetic`]: acquisitions of a phantom with known geometry (test fixtures).

pub mod assemble;
pub mod geometry;
pub mod json;
pub mod mpr;
pub mod synthetic;
pub mod vr;

pub use assemble::{
    Assembly, NotVolumetric, Notice, SliceInfo, SliceSource, Source, Volume, assemble,
};
pub use geometry::{Affine, Vec3, direction_label};

#[cfg(test)]
mod testrng;
#[cfg(test)]
mod tests;
