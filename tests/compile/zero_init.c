/* Every public struct of medvol.h and medvol_cuda.h zeroed with MV_ZERO_INIT,
   the one line the header documents, compiled and run by `make test-configs`
   as C99 and C++11 with gcc and clang at -Wall -Wextra -Wpedantic -Werror.
   (With plain {0} the C++ builds fail: mv_load_opts' first field is an enum,
   and the other structs warn under -Wmissing-field-initializers.)
   test-configs also checks that each `typedef struct mv_x {` of the public
   halves is declared here, so a new struct cannot be forgotten.
   Only types are used: no implementation is needed to link it. */
#include "../../medvol.h"
#include "../../medvol_cuda.h"

#include <stdio.h>

#define CHECK(x) do { if (!(x)) { printf("zero_init: FAILED %s (line %d)\n", #x, __LINE__); return 1; } } while (0)

int main(void)
{
    mv_extension ext = MV_ZERO_INIT;
    mv_keyvalue kv = MV_ZERO_INIT;
    mv_meta meta = MV_ZERO_INIT;
    mv_vol vol = MV_ZERO_INIT;
    mv_io io = MV_ZERO_INIT;
    mv_convert_opts convert = MV_ZERO_INIT;
    mv_stats_opts stats_opts = MV_ZERO_INIT;
    mv_stats stats = MV_ZERO_INIT;
    mv_load_opts load = MV_ZERO_INIT;
    mv_gzip_opts gzip = MV_ZERO_INIT;
    mv_save_opts save = MV_ZERO_INIT;
    mv_intensity_opts intensity = MV_ZERO_INIT;
    mv_spatial_opts spatial = MV_ZERO_INIT;
    mv_resample_opts resample = MV_ZERO_INIT;
    mv_op op = MV_ZERO_INIT;
    mv_pipeline_opts pipeline = MV_ZERO_INIT;
    mv_fft_opts fft = MV_ZERO_INIT;
    mv_mri_opts mri = MV_ZERO_INIT;
    mv_cuda_vol cuda_vol = MV_ZERO_INIT;
    mv_cuda_resample_opts cuda_resample = MV_ZERO_INIT;
    mv_math_opts z_math_opts = MV_ZERO_INIT;
    mv_region_stats z_region_stats = MV_ZERO_INIT;
    mv_label_opts z_label_opts = MV_ZERO_INIT;
    mv_edt_opts z_edt_opts = MV_ZERO_INIT;
    mv_morph_opts z_morph_opts = MV_ZERO_INIT;
    mv_filter_opts z_filter_opts = MV_ZERO_INIT;
    mv_pyramid_schedule z_pyramid_schedule = MV_ZERO_INIT;
    mv_corr_opts z_corr_opts = MV_ZERO_INIT;
    mv_seed z_seed = MV_ZERO_INIT;
    mv_chi2_opts z_chisq_opts = MV_ZERO_INIT;
    mv_mtau_opts z_mtau_opts = MV_ZERO_INIT;
    mv_cache_opts z_cache_opts = MV_ZERO_INIT;
    mv_cache_stats z_cache_stats = MV_ZERO_INIT;
    mv_material z_material = MV_ZERO_INIT;
    mv_transport_opts z_transport_opts = MV_ZERO_INIT;
    mv_transport_balance z_transport_balance = MV_ZERO_INIT;
    mv_transport_beam z_transport_beam = MV_ZERO_INIT;
    mv_transport_grid z_transport_grid = MV_ZERO_INIT;
    mv_transport_tables z_transport_tables = MV_ZERO_INIT;
    mv_transport_stencil z_transport_stencil = MV_ZERO_INIT;
    mv_field_opts z_field_opts = MV_ZERO_INIT;
    mv_field_info z_field_info = MV_ZERO_INIT;
    mv_demons_opts z_demons_opts = MV_ZERO_INIT;
    mv_demons_result z_demons_result = MV_ZERO_INIT;
    mv_transform z_transform = MV_ZERO_INIT;
    mv_metric_opts z_metric_opts = MV_ZERO_INIT;
    mv_register_progress z_register_progress = MV_ZERO_INIT;
    mv_register_opts z_register_opts = MV_ZERO_INIT;
    mv_register_result z_register_result = MV_ZERO_INIT;
    mv_elastix_output z_elastix_output = MV_ZERO_INIT;
    mv_elastix_points z_elastix_points = MV_ZERO_INIT;
    mv_traj_opts z_traj_opts = MV_ZERO_INIT;
    mv_poisson_opts z_poisson_opts = MV_ZERO_INIT;
    mv_estdelay_opts z_estdelay_opts = MV_ZERO_INIT;
    mv_estdelay_result z_estdelay_result = MV_ZERO_INIT;
    mv_tv_opts z_tv_opts = MV_ZERO_INIT;
    mv_tgv_opts z_tgv_opts = MV_ZERO_INIT;
    mv_measures z_measures = MV_ZERO_INIT;
    mv_whiten_opts z_whiten_opts = MV_ZERO_INIT;
    mv_nufft_opts z_nufft_opts = MV_ZERO_INIT;
    mv_nufft_tables z_nufft_tables = MV_ZERO_INIT;
    mv_nufft_toeplitz_kernel z_nufft_toeplitz_kernel = MV_ZERO_INIT;
    mv_dcf_opts z_dcf_opts = MV_ZERO_INIT;
    mv_grappa_opts z_grappa_opts = MV_ZERO_INIT;
    mv_ecalib_opts z_ecalib_opts = MV_ZERO_INIT;
    mv_wavelet_opts z_wavelet_opts = MV_ZERO_INIT;
    mv_cg_opts z_cg_opts = MV_ZERO_INIT;
    mv_pocsense_opts z_pocsense_opts = MV_ZERO_INIT;
    mv_sake_opts z_sake_opts = MV_ZERO_INIT;
    mv_bin_opts z_bin_opts = MV_ZERO_INIT;
    mv_epg_opts z_epg_opts = MV_ZERO_INIT;
    mv_ssa_opts z_ssa_opts = MV_ZERO_INIT;
    mv_recon_io z_recon_io = MV_ZERO_INIT;
    mv_nlinv_opts z_nlinv_opts = MV_ZERO_INIT;
    mv_twix_opts z_twix_opts = MV_ZERO_INIT;
    mv_cc_opts z_cc_opts = MV_ZERO_INIT;
    mv_homodyne_opts z_homodyne_opts = MV_ZERO_INIT;
    mv_lncc_opts z_lncc_opts = MV_ZERO_INIT;
    mv_syn_opts z_syn_opts = MV_ZERO_INIT;
    mv_syn_result z_syn_result = MV_ZERO_INIT;
    mv_bspline_grid z_bspline_grid = MV_ZERO_INIT;
    mv_bspline_opts z_bspline_opts = MV_ZERO_INIT;
    mv_bspline_result z_bspline_result = MV_ZERO_INIT;

    /* the initializer zeroes, not merely compiles: a field of each kind */
    CHECK(ext.data == NULL && ext.size == 0);
    CHECK(kv.key == NULL && kv.value == NULL);
    CHECK(meta.format == MV_FORMAT_NONE && meta.ext == NULL && meta.srow[2][3] == 0.0 && meta.descrip[0] == 0);
    CHECK(vol.data == NULL && vol.dtype == MV_DT_UNKNOWN && vol.dim[MV_MAX_DIMS - 1] == 0);
    CHECK(vol.affine[3][3] == 0.0 && vol.meta.n_ext == 0 && vol.alloc_ctx == NULL);
    CHECK(io.read == NULL && io.user == NULL);
    CHECK(convert.rounding == MV_ROUND_NEAREST && convert.alloc_ctx == NULL);
    CHECK(stats_opts.raw == 0 && stats_opts.threads == 0);
    CHECK(stats.count == 0 && stats.max == 0.0);
    CHECK(load.dtype == MV_DT_UNKNOWN && load.mmap == MV_MMAP_AUTO && load.box_size[MV_MAX_DIMS - 1] == 0);
    CHECK(gzip.level == 0 && gzip.alloc_ctx == NULL);
    CHECK(save.gzip.member_size == 0 && save.alloc_ctx == NULL);
    CHECK(intensity.mask == NULL && intensity.dtype == MV_DT_UNKNOWN && spatial.fill == 0.0);
    CHECK(resample.interp == MV_INTERP_LINEAR && resample.fill == 0.0);
    CHECK(op.code[0] == 0 && op.dtype == MV_DT_UNKNOWN && pipeline.stats == NULL);
    CHECK(fft.alloc_ctx == NULL && mri.lambda == 0.0 && mri.calib[2] == 0);
    CHECK(cuda_vol.vol.data == NULL && cuda_vol.device == 0);
    CHECK(cuda_resample.dtype == MV_DT_UNKNOWN && cuda_resample.fill == 0.0);
    CHECK(z_filter_opts.mode == MV_BOUNDARY_REFLECT && z_filter_opts.truncate == 0.0 && z_filter_opts.progress == NULL);
    CHECK(z_pyramid_schedule.nlevels == 0 && z_pyramid_schedule.sigma[MV_PYRAMID_MAX_LEVELS - 1][2] == 0.0);
    CHECK(z_register_opts.transform == MV_TRANSFORM_RIGID && z_register_opts.metric.metric == MV_METRIC_MI &&
          z_register_opts.init_matrix == NULL && z_register_opts.progress == NULL);
    CHECK(z_transform.nparams == 0 && z_register_result.matrix[3][3] == 0.0 && z_metric_opts.fixed_mask == NULL);
    CHECK(z_elastix_output.fill == 0.0 && z_elastix_output.format[0] == 0 && z_elastix_output.dtype == MV_DT_UNKNOWN);
    CHECK(z_elastix_points.p == NULL && z_elastix_points.count == 0 && z_elastix_points.alloc_ctx == NULL);
    CHECK(z_field_opts.scratch == NULL && z_demons_opts.progress == NULL);
    CHECK(z_traj_opts.golden == 0 && z_nufft_opts.tol == 0.0 && z_dcf_opts.progress == NULL);
    CHECK(z_poisson_opts.accel_y == 0.0 && z_poisson_opts.seed_set == 0 && z_poisson_opts.alloc_ctx == NULL);
    CHECK(z_traj_opts.cartesian == 0 && z_traj_opts.delays[5] == 0.0f && z_traj_opts.delay_table == NULL);
    CHECK(z_estdelay_opts.ring == 0 && z_estdelay_opts.region == 0.0f && z_estdelay_opts.alloc_ctx == NULL);
    CHECK(z_estdelay_result.delays[2] == 0.0f && z_estdelay_result.region_too_small == 0);
    CHECK(z_tv_opts.axes == 0 && z_tv_opts.components == 0 && z_tv_opts.alloc_ctx == NULL);
    CHECK(z_tgv_opts.axes2 == 0 && z_tgv_opts.abstol == 0 && z_tgv_opts.progress == NULL);
    CHECK(z_measures.ssim == 0 && z_measures.nmse_mag == 0);
    CHECK(z_pocsense_opts.iterations == 0 && z_pocsense_opts.alpha == 0.0 && z_pocsense_opts.progress == NULL);
    CHECK(z_sake_opts.alpha_set == 0 && z_sake_opts.lambda_set == 0 && z_sake_opts.progress == NULL);
    CHECK(z_bin_opts.n_card == 0 && z_bin_opts.offset_deg[1] == 0.0 && z_bin_opts.amplitude == 0);
    CHECK(z_ssa_opts.window == 0 && z_ssa_opts.group == 0 && z_ssa_opts.alloc_ctx == NULL);
    CHECK(z_epg_opts.sequence == MV_EPG_CPMG && z_epg_opts.t1 == 0.0 && z_epg_opts.seed == 0u && z_epg_opts.refocus_deg == 0.0);
    CHECK(z_whiten_opts.normalize == 0 && z_whiten_opts.matrix_out == NULL && z_whiten_opts.stdev == 0.0);
    CHECK(z_grappa_opts.kernel[2] == 0 && z_grappa_opts.lambda == 0.0 && z_ecalib_opts.calib[2] == 0 &&
          z_ecalib_opts.variance == 0.0 && z_ecalib_opts.crop_used == NULL && z_ecalib_opts.sure_step == NULL);
    CHECK(z_wavelet_opts.type == MV_WAVELET_DAU2 && z_wavelet_opts.shift[2] == 0 && z_cg_opts.tv == 0.0 &&
          z_cg_opts.admm_cg_iterations == 0 && z_cg_opts.bart_fftmod == 0);
    CHECK(z_nlinv_opts.pattern == NULL && z_nlinv_opts.sobolev_b == 0.0 && z_nlinv_opts.cg_iterations_done == 0);
    CHECK(z_nlinv_opts.realtime == 0 && z_nlinv_opts.temporal_damping == 0.0);
    CHECK(z_twix_opts.alloc_ctx == NULL && z_twix_opts.max_bytes == 0 && z_twix_opts.dims[15] == 0 &&
          z_twix_opts.protocol[64] == 0);
    CHECK(z_cc_opts.geometric == 0 && z_cc_opts.calib[2] == 0 && z_cc_opts.alloc_ctx == NULL);
    CHECK(z_homodyne_opts.phase == NULL && z_homodyne_opts.alpha == 0.0 && z_homodyne_opts.uncentred == 0);
    CHECK(z_cg_opts.lambda == 0.0 && z_lncc_opts.alloc_ctx == NULL && z_syn_opts.iterations[MV_SYN_MAX_LEVELS - 1] == 0);
    CHECK(z_syn_result.metric == 0.0 && z_bspline_grid.origin[2] == 0.0 && z_bspline_opts.metric.fixed_mask == NULL);
    CHECK(z_bspline_result.iterations[MV_BSPLINE_MAX_LEVELS - 1] == 0 && z_bspline_result.cost == 0.0);
    /* the rest: declared (the Makefile checks every public struct is here) */
    (void)z_math_opts;
    (void)z_region_stats;
    (void)z_label_opts;
    (void)z_edt_opts;
    (void)z_morph_opts;
    (void)z_corr_opts;
    (void)z_seed;
    (void)z_chisq_opts;
    (void)z_mtau_opts;
    (void)z_cache_opts;
    (void)z_cache_stats;
    (void)z_material;
    (void)z_transport_opts;
    (void)z_transport_balance;
    (void)z_transport_beam;
    (void)z_transport_grid;
    (void)z_transport_tables;
    (void)z_transport_stencil;
    (void)z_nufft_tables;
    (void)z_nufft_toeplitz_kernel;
    (void)z_field_info;
    (void)z_demons_result;
    (void)z_register_progress;
    (void)z_recon_io;
    printf("zero_init: ok\n");
    return 0;
}
