# medvol - see README.md. Outputs go to build/.
#   make            tools and examples          make test      the whole suite (every config)
#   make run        the main job on a phantom   make test-quick  one configuration
#   make fuzz       libFuzzer targets           make bench     medvol vs peer tools (bench/README.md)
#   make cuda       nvcc build of the CUDA half  make test-cuda  its tests (need a GPU; skip without)
#   make test-cuda-emu  the CUDA half's GPU tests on the CPU (tests/cuda_emu, no GPU or nvcc needed)
#   make install    headers, pkg-config and CMake files into PREFIX (/usr/local); make uninstall
CC      ?= cc
CXX     ?= c++
CFLAGS  ?= -O2 -g
# fixed flags: the warnings the header promises to pass, no FMA contraction
WFLAGS  := -std=c99 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
XFLAGS  := -ffp-contract=off
LDLIBS  := -lm -lpthread
FFTW_LIBS := -lfftw3f_threads -lfftw3f
BUILD   := build
# tools and examples pick the best ISA at run time
TOOLDEF := -DMEDVOL_RUNTIME_DISPATCH
FUZZ_SECONDS ?= 30

# every tests/test_<area>.c is in the suite (test_large.c is its own program,
# make test-large); every examples/profile_<op>.c is built as a profiler
TEST_SRC := $(filter-out tests/test_large.c,$(sort $(wildcard tests/test_*.c)))
PROFILES := $(patsubst examples/%.c,$(BUILD)/%,$(sort $(wildcard examples/profile_*.c)))
# mvtool: the parser and core commands in mvtool.c, one file per family beside it
MVTOOL_SRC := $(sort $(wildcard examples/mvtool*.c))
EXAMPLES := $(BUILD)/mvtool $(PROFILES) $(BUILD)/mri_recon $(BUILD)/demo $(BUILD)/proton_pdd
# the FFT profile beside FFTW_MEASURE, where FFTW's headers are installed (apt-get install libfftw3-dev)
ifneq ($(wildcard /usr/include/fftw3.h),)
EXAMPLES += $(BUILD)/profile_fft_vs_fftw
endif

.PHONY: bench-register bench-transformix bench-h5 bench-itk-bspline bench-large2d bench-deformable3d bench-analysis bench-morph all install uninstall test-install test-tsan run bench bench-quick bench-check bench-baseline bench-setup bench-gzip bench-fft test-large test test-quick test-tools test-diff-scipy test-diff-nibabel test-diff-numpy test-diff-sitk test-diff-bart test-diff-elastix test-diff-dwi test-asan test-nosimd test-nothreads test-cxx test-clang test-fftw test-neon test-neon-full test-configs test-extended \
        test-install-release test-configs-gcc-front test-all test-symbols test-fuzz-replay test-march fuzz clean cuda test-cuda test-cuda-symbols test-cuda-emu test-cuda-emu-order test-cuda-emu-pdd test-cuda-emu-race test-cuda-emu-san profile-cuda-emu
all: $(EXAMPLES)

$(BUILD):
	@mkdir -p $(BUILD)

# The implementation is compiled once (tests/medvol_impl.c: the one file of a
# user's project that defines MEDVOL_IMPLEMENTATION) into build/libmedvol.a,
# and every tool and example links it: MEDVOL_EXAMPLE_LINKED tells an example
# not to define MEDVOL_IMPLEMENTATION itself. Compiled alone (cc demo.c -lm
# -lpthread) each example still carries the implementation.
LIBMEDVOL := $(BUILD)/libmedvol.a
$(BUILD)/medvol.o: tests/medvol_impl.c medvol.h | $(BUILD)
	$(CC) $(CFLAGS) $(WFLAGS) $(XFLAGS) $(TOOLDEF) -c -o $@ tests/medvol_impl.c
$(LIBMEDVOL): $(BUILD)/medvol.o
	$(AR) rcs $@ $<
EXFLAGS := $(CFLAGS) $(WFLAGS) $(XFLAGS) -DMEDVOL_EXAMPLE_LINKED
$(BUILD)/%: examples/%.c medvol.h examples/profile.h examples/profile_ops.h examples/profile_fft.h $(LIBMEDVOL) | $(BUILD)
	$(CC) $(EXFLAGS) -o $@ $< $(LIBMEDVOL) $(LDLIBS)
$(BUILD)/mvtool: $(MVTOOL_SRC) examples/mvtool.h medvol.h $(LIBMEDVOL) | $(BUILD)
	$(CC) $(EXFLAGS) -o $@ $(MVTOOL_SRC) $(LIBMEDVOL) $(LDLIBS)
# FFTW is linked into this profile only (a comparison column); the library never needs it
$(BUILD)/profile_fft_vs_fftw: examples/profile_fft.c medvol.h examples/profile.h examples/profile_fft.h $(LIBMEDVOL) | $(BUILD)
	$(CC) $(EXFLAGS) -DPROFILE_FFT_WITH_FFTW -o $@ $< $(LIBMEDVOL) $(FFTW_LIBS) $(LDLIBS)

run: $(BUILD)/demo $(BUILD)/mvtool $(BUILD)/mri_recon $(BUILD)/proton_pdd
	$(BUILD)/demo $(BUILD)/demo-out
	$(BUILD)/proton_pdd --energy 70 --grid 21,0,36,120 --lateral 20,35 --out $(BUILD)/proton-out > $(BUILD)/proton-pdd.txt && \
	  grep -v "^lateral [0-9.]* \+-\?[0-9]" $(BUILD)/proton-pdd.txt
	$(BUILD)/mri_recon 64 8 1 --out $(BUILD)/mri-out
	$(BUILD)/mvtool phantom $(BUILD)/run-c.nii --size 24 && \
	  $(BUILD)/mvtool convert $(BUILD)/run-c.nii $(BUILD)/run-c.cfl --dtype complex64 && \
	  $(BUILD)/mvtool info $(BUILD)/run-c.hdr | grep "^format\|^dims" && \
	  $(BUILD)/mvtool convert $(BUILD)/run-c.cfl $(BUILD)/run-c2.nii.gz && \
	  $(BUILD)/mvtool fftmod 7 $(BUILD)/run-c $(BUILD)/run-cm && $(BUILD)/mvtool fft -n 7 $(BUILD)/run-cm $(BUILD)/run-ck && \
	  $(BUILD)/mvtool fftmod 7 $(BUILD)/run-ck $(BUILD)/run-ck && $(BUILD)/mvtool fft 7 $(BUILD)/run-c $(BUILD)/run-cf && \
	  cmp $(BUILD)/run-ck.cfl $(BUILD)/run-cf.cfl && echo "fft 7 = fftmod 7, fft -n 7, fftmod 7 (BART's centred FFT): the same bytes" && \
	  $(BUILD)/mvtool fftshift 7 $(BUILD)/run-cf $(BUILD)/run-cs && $(BUILD)/mvtool fftshift -b 7 $(BUILD)/run-cs $(BUILD)/run-cs && \
	  cmp $(BUILD)/run-cs.cfl $(BUILD)/run-cf.cfl && echo "fftshift -b 7 undoes fftshift 7: the same bytes" && \
	  $(BUILD)/mvtool extract 2 0 12 $(BUILD)/run-cf $(BUILD)/run-a0 && $(BUILD)/mvtool extract 2 12 24 $(BUILD)/run-cf $(BUILD)/run-a1 && \
	  $(BUILD)/mvtool join 2 $(BUILD)/run-a0 $(BUILD)/run-a1 $(BUILD)/run-aj && cmp $(BUILD)/run-aj.cfl $(BUILD)/run-cf.cfl && \
	  $(BUILD)/mvtool transpose 0 10 $(BUILD)/run-cf $(BUILD)/run-at && $(BUILD)/mvtool transpose 0 10 $(BUILD)/run-at $(BUILD)/run-at && \
	  cmp $(BUILD)/run-at.cfl $(BUILD)/run-cf.cfl && echo "join 2 of extract 2 0 12 and 12 24, transpose 0 10 twice: the same bytes" && \
	  $(BUILD)/mvtool scale 1.001 $(BUILD)/run-cf $(BUILD)/run-as && printf "nrmse of a 1.001 scale (bart nrmse): " && \
	  $(BUILD)/mvtool nrmse $(BUILD)/run-cf $(BUILD)/run-as && $(BUILD)/mvtool noise -s 3 -n 4 $(BUILD)/run-cf $(BUILD)/run-an && \
	  printf "nrmse of bart noise -s 3 -n 4 (its generator): " && $(BUILD)/mvtool nrmse $(BUILD)/run-cf $(BUILD)/run-an && printf "poisson -Y 24 -Z 24 -y 1.5 -z 1.5 -C 8 (bart poisson): " && \
	  $(BUILD)/mvtool poisson -Y 24 -Z 24 -y 1.5 -z 1.5 -C 8 $(BUILD)/run-ap && \
	  printf "poisson -T 4 -Y 48 -Z 48 -y 2 -C 8 (4 frames of one multi-class Poisson-disc pattern): " && \
	  $(BUILD)/mvtool poisson -T 4 -Y 48 -Z 48 -y 2 -C 8 $(BUILD)/run-apt && \
	  $(BUILD)/mvtool vec 0 2 1 $(BUILD)/run-ohl && $(BUILD)/mvtool onehotenc $(BUILD)/run-ohl $(BUILD)/run-oh && \
	  echo "onehotenc of the labels 0 2 1 (bart onehotenc; one row per class):" && $(BUILD)/mvtool show $(BUILD)/run-oh
	$(BUILD)/mvtool smooth $(BUILD)/run-c.nii $(BUILD)/run-cg.nii 1 && \
	  $(BUILD)/mvtool convert $(BUILD)/run-cg.nii $(BUILD)/run-cg.cfl --dtype complex64 && \
	  $(BUILD)/mvtool slice 2 12 $(BUILD)/run-cg $(BUILD)/run-cg2 && \
	  $(BUILD)/mvtool traj -r -D -x 24 -y 16 -q 1.5:1:-0.5 $(BUILD)/run-td && $(BUILD)/mvtool traj -r -D -x 24 -y 16 $(BUILD)/run-tn && \
	  $(BUILD)/mvtool nufft -d 24:24:1 $(BUILD)/run-td $(BUILD)/run-cg2 $(BUILD)/run-kd && \
	  printf "estdelay of radial k-space at traj -q 1.5:1:-0.5 (bart estdelay): " && $(BUILD)/mvtool estdelay $(BUILD)/run-tn $(BUILD)/run-kd && \
	  printf "estdims of traj -r -D -x 24 -y 16 (bart estdims): " && $(BUILD)/mvtool estdims $(BUILD)/run-tn && \
	  $(BUILD)/mvtool traj -r -G -e 2 -t 3 -m 2 -x 24 -y 5 $(BUILD)/run-tg && \
	  printf "traj -r -G -e 2 -t 3 -m 2 -x 24 -y 5 (bart traj), sizes:" && $(BUILD)/mvtool show -m $(BUILD)/run-tg | sed -n 's/^AoD://p' | tr '\t' ' '
	$(BUILD)/mvtool noise -s 5 -n 0.0005 $(BUILD)/run-cg2 $(BUILD)/run-cgn && $(BUILD)/mvtool rof 0.01 3 $(BUILD)/run-cgn $(BUILD)/run-cgr && \
	  printf "nrmse of a noisy slice: " && $(BUILD)/mvtool nrmse $(BUILD)/run-cg2 $(BUILD)/run-cgn && \
	  printf "after rof 0.01 3 (bart rof's TV denoising): " && $(BUILD)/mvtool nrmse $(BUILD)/run-cg2 $(BUILD)/run-cgr && \
	  $(BUILD)/mvtool tgv 0.01 3 $(BUILD)/run-cgn $(BUILD)/run-cgt && $(BUILD)/mvtool slice 15 0 $(BUILD)/run-cgt $(BUILD)/run-cgt0 && \
	  printf "after tgv 0.01 3 (bart tgv's TGV denoising; the image, without its two fields): " && \
	  $(BUILD)/mvtool nrmse $(BUILD)/run-cg2 $(BUILD)/run-cgt0 && \
	  $(BUILD)/mvtool ictv 0.01 3 3 $(BUILD)/run-cgn $(BUILD)/run-cgi && $(BUILD)/mvtool slice 15 0 $(BUILD)/run-cgi $(BUILD)/run-cgi0 && \
	  printf "after ictv 0.01 3 3 (bart ictv's infimal-convolution TV): " && $(BUILD)/mvtool nrmse $(BUILD)/run-cg2 $(BUILD)/run-cgi0 && \
	  echo "measure of the tgv image against the slice (bart measure: MSE, PSNR, SSIM, ...):" && \
	  $(BUILD)/mvtool measure $(BUILD)/run-cg2 $(BUILD)/run-cgt0 && \
	  $(BUILD)/mvtool ones 2 24 24 $(BUILD)/run-one && $(BUILD)/mvtool fft -u 3 $(BUILD)/run-cgn $(BUILD)/run-kn && \
	  $(BUILD)/mvtool pics -S -R G:3:0:0.01 -i 60 $(BUILD)/run-kn $(BUILD)/run-one $(BUILD)/run-pg && \
	  printf "pics -S -R G:3:0:0.01 of its k-space (bart pics's TGV term, one coil): " && \
	  $(BUILD)/mvtool nrmse $(BUILD)/run-cg2 $(BUILD)/run-pg && \
	  $(BUILD)/mvtool fft -u 3 $(BUILD)/run-cg2 $(BUILD)/run-kg && $(BUILD)/mvtool fovshift -s 0.125:0:0 $(BUILD)/run-kg $(BUILD)/run-kgs && \
	  $(BUILD)/mvtool fft -i -u 3 $(BUILD)/run-kgs $(BUILD)/run-cgs && \
	  printf "estshift 3 of the slice after fovshift -s 0.125:0:0 (bart's, 3 of 24 pixels): " && $(BUILD)/mvtool estshift 3 $(BUILD)/run-cgs $(BUILD)/run-cg2
	$(BUILD)/mvtool traj -r -x 48 -y 9 -t 3 $(BUILD)/run-rtt && \
	  $(BUILD)/mvtool nufft -d 24:24:1 $(BUILD)/run-rtt $(BUILD)/run-cg2 $(BUILD)/run-rtk && \
	  $(BUILD)/mvtool join 10 $(BUILD)/run-rtk $(BUILD)/run-rtk $(BUILD)/run-rtk6 && \
	  $(BUILD)/mvtool rtnlinv -i 6 -t $(BUILD)/run-rtt $(BUILD)/run-rtk6 $(BUILD)/run-rti && \
	  $(BUILD)/mvtool slice 10 0 $(BUILD)/run-rti $(BUILD)/run-rti0 && $(BUILD)/mvtool slice 10 3 $(BUILD)/run-rti $(BUILD)/run-rti3 && \
	  printf "rtnlinv -i 6 -t (bart rtnlinv: 3 turns of 9 spokes, 6 frames): frame 0 (from x = 1) against frame 3 (from frame 2), the same data: " && \
	  $(BUILD)/mvtool nrmse $(BUILD)/run-rti0 $(BUILD)/run-rti3
	$(BUILD)/mvtool twixread -A -d 2 tests/fuzz/corpus/twix/ve_tiny_auto $(BUILD)/run-twix && \
	  printf "twixread -A of a VE file twixtools wrote (bart twixread), sizes:" && \
	  $(BUILD)/mvtool show -m $(BUILD)/run-twix | sed -n 's/^AoD://p' | tr '\t' ' '
	$(BUILD)/mvtool zeros 4 2000 1 1 4 $(BUILD)/run-z0 && $(BUILD)/mvtool noise -s 3 -n 2 $(BUILD)/run-z0 $(BUILD)/run-nz && \
	  $(BUILD)/mvtool whiten -n $(BUILD)/run-nz $(BUILD)/run-nz $(BUILD)/run-wz && $(BUILD)/mvtool std 15 $(BUILD)/run-nz $(BUILD)/run-ns && \
	  $(BUILD)/mvtool std 15 $(BUILD)/run-wz $(BUILD)/run-ws && printf "std of 4-coil noise of variance 2: " && \
	  $(BUILD)/mvtool show $(BUILD)/run-ns && printf "after whiten -n (bart whiten): " && $(BUILD)/mvtool show $(BUILD)/run-ws
	$(BUILD)/mvtool ones 1 24 $(BUILD)/run-o1 && $(BUILD)/mvtool index 0 24 $(BUILD)/run-ix && \
	  $(BUILD)/mvtool scale 0.2i $(BUILD)/run-ix $(BUILD)/run-ixs && $(BUILD)/mvtool zexp $(BUILD)/run-ixs $(BUILD)/run-c1 && \
	  $(BUILD)/mvtool join 3 $(BUILD)/run-o1 $(BUILD)/run-c1 $(BUILD)/run-coils && \
	  $(BUILD)/mvtool fmac $(BUILD)/run-coils $(BUILD)/run-cg2 $(BUILD)/run-cims && $(BUILD)/mvtool fft -u 7 $(BUILD)/run-cims $(BUILD)/run-cks && \
	  echo "caldir 12 of two coils' k-space (bart caldir):" && $(BUILD)/mvtool caldir 12 $(BUILD)/run-cks $(BUILD)/run-cs
	$(BUILD)/mvtool walsh -r 12 -b 8 $(BUILD)/run-cks $(BUILD)/run-wc >/dev/null && \
	  $(BUILD)/mvtool ecaltwo -m 1 -c 0 24 24 1 $(BUILD)/run-wc $(BUILD)/run-wm >/dev/null && \
	  $(BUILD)/mvtool slice 3 0 $(BUILD)/run-wm $(BUILD)/run-w0 && $(BUILD)/mvtool slice 3 1 $(BUILD)/run-wm $(BUILD)/run-w1 && \
	  $(BUILD)/mvtool fmac -C $(BUILD)/run-w1 $(BUILD)/run-w0 $(BUILD)/run-wp && \
	  $(BUILD)/mvtool scale 0.5 $(BUILD)/run-c1 $(BUILD)/run-ch && $(BUILD)/mvtool repmat 1 24 $(BUILD)/run-ch $(BUILD)/run-chr && \
	  printf "walsh -b 8 + ecaltwo of those coils (bart walsh, ecaltwo): map 1 conj(map 0) against e^{0.2ix}/2 (nrmse): " && \
	  $(BUILD)/mvtool nrmse $(BUILD)/run-chr $(BUILD)/run-wp && \
	  $(BUILD)/mvtool slice 3 0 $(BUILD)/run-cs $(BUILD)/run-w0 && $(BUILD)/mvtool slice 3 1 $(BUILD)/run-cs $(BUILD)/run-w1 && \
	  $(BUILD)/mvtool fmac -C $(BUILD)/run-w1 $(BUILD)/run-w0 $(BUILD)/run-wp && printf "the same of caldir's maps: " && \
	  $(BUILD)/mvtool nrmse $(BUILD)/run-chr $(BUILD)/run-wp
	$(BUILD)/mvtool threshold -B 0.1 $(BUILD)/run-c $(BUILD)/run-cb && $(BUILD)/mvtool morphop -o 3 $(BUILD)/run-cb $(BUILD)/run-cbo && \
	  echo "roistat of the phantom inside its mask opened by a 3 x 3 block (bart threshold -B, morphop -o, roistat):" && \
	  $(BUILD)/mvtool roistat $(BUILD)/run-cbo $(BUILD)/run-c && rm -f $(BUILD)/run-png*.png && \
	  $(BUILD)/mvtool toimg $(BUILD)/run-cbo $(BUILD)/run-png && echo "toimg (bart toimg): $$(ls $(BUILD)/run-png-*.png | wc -l) PNG slices of that mask" && \
	  $(BUILD)/mvtool fftrot 0 1 0.5 $(BUILD)/run-c $(BUILD)/run-cr && $(BUILD)/mvtool fftrot 0 1 -0.5 $(BUILD)/run-cr $(BUILD)/run-crr && \
	  printf "fftrot by 0.5 rad and back (bart fftrot: three unitary shears): nrmse: " && $(BUILD)/mvtool nrmse $(BUILD)/run-c $(BUILD)/run-crr && \
	  $(BUILD)/mvtool wavelet 7 $(BUILD)/run-c $(BUILD)/run-cw && $(BUILD)/mvtool wavelet -a 7 24 24 24 $(BUILD)/run-cw $(BUILD)/run-cwa && \
	  printf "wavelet 7 of the phantom (bart wavelet: Daubechies 2 in BART's layout): $$(sed -n 2p $(BUILD)/run-cw.hdr | cut -d' ' -f1) coefficients; -a back, nrmse: " && \
	  $(BUILD)/mvtool nrmse $(BUILD)/run-c $(BUILD)/run-cwa && \
	  $(BUILD)/mvtool cdf97 7 $(BUILD)/run-c $(BUILD)/run-c97 && $(BUILD)/mvtool cdf97 -i 7 $(BUILD)/run-c97 $(BUILD)/run-c97i && \
	  printf "cdf97 7 of it and -i back (bart cdf97: CDF 9/7 lifting), nrmse: " && $(BUILD)/mvtool nrmse $(BUILD)/run-c $(BUILD)/run-c97i
	$(BUILD)/mvtool upat -Y 24 -Z 1 -y 2 -c 6 $(BUILD)/run-up && $(BUILD)/mvtool repmat 0 24 $(BUILD)/run-up $(BUILD)/run-upr && \
	  $(BUILD)/mvtool fmac $(BUILD)/run-cks $(BUILD)/run-upr $(BUILD)/run-cku && \
	  $(BUILD)/mvtool pocsense -i 50 $(BUILD)/run-cku $(BUILD)/run-cs $(BUILD)/run-cpk && \
	  printf "pocsense of those coils' k-space at R = 2 with caldir's maps (bart upat, pocsense): nrmse against every line: " && \
	  $(BUILD)/mvtool nrmse $(BUILD)/run-cks $(BUILD)/run-cpk && \
	  $(BUILD)/mvtool itsense 0.001 $(BUILD)/run-cs $(BUILD)/run-cku $(BUILD)/run-upr $(BUILD)/run-cit && \
	  $(BUILD)/mvtool fakeksp $(BUILD)/run-cit $(BUILD)/run-cks $(BUILD)/run-cs $(BUILD)/run-cfk && \
	  printf "itsense of it, back to k-space by fakeksp (bart itsense, fakeksp): nrmse against every line: " && \
	  $(BUILD)/mvtool nrmse $(BUILD)/run-cks $(BUILD)/run-cfk && \
	  $(BUILD)/mvtool sake -i 30 $(BUILD)/run-cku $(BUILD)/run-csk && \
	  printf "sake -i 30 of it, no maps (bart sake): nrmse against every line: " && $(BUILD)/mvtool nrmse $(BUILD)/run-cks $(BUILD)/run-csk && \
	  printf "estvar of those coils (bart estvar, kernel 3, box 12): " && $(BUILD)/mvtool estvar -k 3 -r 12 $(BUILD)/run-cks && \
	  $(BUILD)/mvtool noise -s 5 -n 0.01 $(BUILD)/run-cks $(BUILD)/run-cksn && \
	  printf "with noise of variance 0.01 added (bart noise): " && $(BUILD)/mvtool estvar -k 3 -r 12 $(BUILD)/run-cksn && \
	  $(BUILD)/mvtool ecalib -a -m 1 -r 12 -k 3 $(BUILD)/run-cksn $(BUILD)/run-csa $(BUILD)/run-cse 2> $(BUILD)/run-csa.txt && \
	  printf "ESPIRiT of those, soft-weighted kernels and the crop chosen by SURE (bart ecalib -a): " && cat $(BUILD)/run-csa.txt
	$(BUILD)/mvtool index 10 200 $(BUILD)/run-bt && for m in r:0.031i c:0.157i; do \
	  $(BUILD)/mvtool scale $${m#*:} $(BUILD)/run-bt $(BUILD)/run-bp && $(BUILD)/mvtool zexp $(BUILD)/run-bp $(BUILD)/run-bz && \
	  $(BUILD)/mvtool creal $(BUILD)/run-bz $(BUILD)/run-b$${m%%:*}a && $(BUILD)/mvtool scale -1i $(BUILD)/run-bz $(BUILD)/run-bz && \
	  $(BUILD)/mvtool creal $(BUILD)/run-bz $(BUILD)/run-b$${m%%:*}b || exit 1; done && \
	  $(BUILD)/mvtool join 11 $(BUILD)/run-bra $(BUILD)/run-brb $(BUILD)/run-bca $(BUILD)/run-bcb $(BUILD)/run-beof && \
	  $(BUILD)/mvtool bin -R 3 -C 4 $(BUILD)/run-beof $(BUILD)/run-bt $(BUILD)/run-bb && \
	  echo "quadrature binning of 200 samples of two motions (cos, sin pairs as bart ssa gives them; bart bin -R 3 -C 4): sizes $$(sed -n 2p $(BUILD)/run-bb.hdr | cut -d' ' -f1-12)"
	$(BUILD)/mvtool traj -x 16 -y 101 -r -G $(BUILD)/run-rt && $(BUILD)/mvtool transpose 2 10 $(BUILD)/run-rt $(BUILD)/run-rt10 && \
	  $(BUILD)/mvtool slice 1 0 $(BUILD)/run-rt10 $(BUILD)/run-rt0 && $(BUILD)/mvtool extract 0 0 1 $(BUILD)/run-rt0 $(BUILD)/run-rkx && \
	  $(BUILD)/mvtool extract 0 1 2 $(BUILD)/run-rt0 $(BUILD)/run-rky && $(BUILD)/mvtool saxpy 1i $(BUILD)/run-rky $(BUILD)/run-rkx $(BUILD)/run-rdc && \
	  $(BUILD)/mvtool zeros 11 1 1 1 1 1 1 1 1 1 1 101 $(BUILD)/run-rz && $(BUILD)/mvtool noise -s 3 -n 0.01 $(BUILD)/run-rz $(BUILD)/run-rn && \
	  $(BUILD)/mvtool saxpy 1 $(BUILD)/run-rdc $(BUILD)/run-rn $(BUILD)/run-rk && $(BUILD)/mvtool rmfreq $(BUILD)/run-rt10 $(BUILD)/run-rk $(BUILD)/run-rkc && \
	  printf "rmfreq of 101 golden-angle spokes whose DC sample turns with the angle, plus noise (bart rmfreq, 5 harmonics): nrmse against the noise before %s, after %s (white noise's share in 10 harmonics: 0.31)\n" \
	    "$$($(BUILD)/mvtool nrmse $(BUILD)/run-rn $(BUILD)/run-rk)" "$$($(BUILD)/mvtool nrmse $(BUILD)/run-rn $(BUILD)/run-rkc)"
	$(BUILD)/mvtool signal -I -n 50 -1 0.2:2:20 $(BUILD)/run-sig && $(BUILD)/mvtool transpose 0 5 $(BUILD)/run-sig $(BUILD)/run-sigm && \
	  $(BUILD)/mvtool transpose 1 6 $(BUILD)/run-sigm $(BUILD)/run-sigm && \
	  $(BUILD)/mvtool svd -e $(BUILD)/run-sigm $(BUILD)/run-su $(BUILD)/run-ss $(BUILD)/run-sv && $(BUILD)/mvtool extract 0 0 4 $(BUILD)/run-ss $(BUILD)/run-ss4 && \
	  echo "the 4 largest singular values of 20 IR FLASH curves (bart signal -I, svd: a subspace basis for pics -B):" && \
	  $(BUILD)/mvtool show $(BUILD)/run-ss4
	$(BUILD)/mvtool epg -C --refocus 120 -n 8 -u 2 -v 1 $(BUILD)/run-epg $(BUILD)/run-epgs $(BUILD)/run-epgd > $(BUILD)/run-epg.txt && \
	  $(BUILD)/mvtool cabs $(BUILD)/run-epg $(BUILD)/run-epga && \
	  echo "CPMG echoes with 120-degree refocusing, T2 50 ms, TE 10 ms (bart epg's extended phase graphs; the stimulated echoes lift echo 2 over echo 1):" && \
	  $(BUILD)/mvtool show $(BUILD)/run-epga && printf "its Cramer-Rao bounds (bart epg -v): %s\n" "$$(grep rCRB $(BUILD)/run-epg.txt | paste -sd, -)"
	$(BUILD)/mvtool vec 0.5 1 2 $(BUILD)/run-llc && $(BUILD)/mvtool transpose 0 6 $(BUILD)/run-llc $(BUILD)/run-llc6 && \
	  $(BUILD)/mvtool looklocker -D 0.01 $(BUILD)/run-llc6 $(BUILD)/run-llt1 && \
	  printf "Look-Locker T1 of Mss 0.5, M0 1, R1* 2/s, 10 ms to the first excitation (bart looklocker; M0 / (Mss R1*) + 2 D = 1.02 s): %s\n" "$$($(BUILD)/mvtool show $(BUILD)/run-llt1)"
	$(BUILD)/mvtool wavepsf -x 64 -y 8 $(BUILD)/run-wpsf && $(BUILD)/mvtool slice 1 0 $(BUILD)/run-wpsf $(BUILD)/run-wrow && \
	  $(BUILD)/mvtool extract 0 0 4 $(BUILD)/run-wrow $(BUILD)/run-wrow4 && $(BUILD)/mvtool carg $(BUILD)/run-wrow4 $(BUILD)/run-wrowa && \
	  printf "wave-CAIPI PSF, 64 readout points x 8 lines (bart wavepsf): the first line's phases (rad) %s\n" "$$($(BUILD)/mvtool show $(BUILD)/run-wrowa)"
	$(BUILD)/mvtool index 0 200 $(BUILD)/run-st && $(BUILD)/mvtool scale 0.12566371i $(BUILD)/run-st $(BUILD)/run-sr && \
	  $(BUILD)/mvtool zexp $(BUILD)/run-sr $(BUILD)/run-sr && $(BUILD)/mvtool scale 0.48332194i $(BUILD)/run-st $(BUILD)/run-sc && \
	  $(BUILD)/mvtool zexp $(BUILD)/run-sc $(BUILD)/run-sc && $(BUILD)/mvtool saxpy 0.5 $(BUILD)/run-sc $(BUILD)/run-sr $(BUILD)/run-sx && \
	  $(BUILD)/mvtool ssa -w 30 -z -m 0 $(BUILD)/run-sx $(BUILD)/run-seof $(BUILD)/run-ssv && $(BUILD)/mvtool extract 0 0 4 $(BUILD)/run-ssv $(BUILD)/run-ssv4 && \
	  printf "SSA of two complex oscillations, 200 samples, window 30 (bart ssa: rank 2, the third and fourth singular values float rounding): %s\n" "$$($(BUILD)/mvtool show $(BUILD)/run-ssv4)"
	$(BUILD)/mvtool vec 0.01 0.02 0.03 0.04 0.06 0.08 $(BUILD)/run-mte && $(BUILD)/mvtool transpose 0 5 $(BUILD)/run-mte $(BUILD)/run-mte5 && \
	  $(BUILD)/mvtool scale -25 $(BUILD)/run-mte5 $(BUILD)/run-mz && $(BUILD)/mvtool zexp $(BUILD)/run-mz $(BUILD)/run-my && \
	  $(BUILD)/mvtool scale 1.5i $(BUILD)/run-my $(BUILD)/run-my && $(BUILD)/mvtool mobafit -T $(BUILD)/run-mte5 $(BUILD)/run-my $(BUILD)/run-mx && \
	  printf "T2 fit of a decay 1.5i e^{-25 TE} over 6 echoes (bart mobafit -T, 5 Gauss-Newton steps): rho and R2 %s\n" "$$($(BUILD)/mvtool show $(BUILD)/run-mx)"
	$(BUILD)/mvtool calmat -k 3 -r 8 $(BUILD)/run-cks $(BUILD)/run-cm && \
	  $(BUILD)/mvtool svd -e $(BUILD)/run-cm $(BUILD)/run-cu $(BUILD)/run-csv $(BUILD)/run-cv2 && \
	  $(BUILD)/mvtool extract 0 0 4 $(BUILD)/run-csv $(BUILD)/run-cs4 && \
	  echo "svd -e of calmat -k 3 -r 8 of those coils (bart calmat, svd; 36 x 18): the four largest singular values:" && \
	  $(BUILD)/mvtool show $(BUILD)/run-cs4
	$(BUILD)/mvtool vec 1 9 2 8 3 $(BUILD)/run-v5 && $(BUILD)/mvtool filter -m 0 -l 3 $(BUILD)/run-v5 $(BUILD)/run-v5m && \
	  echo "filter -m 0 -l 3 of 1 9 2 8 3 (bart filter, sliding median): " && $(BUILD)/mvtool show $(BUILD)/run-v5m
	$(BUILD)/mvtool ones 1 3 $(BUILD)/run-k3 && $(BUILD)/mvtool conv 1 $(BUILD)/run-cg2 $(BUILD)/run-k3 $(BUILD)/run-cv && \
	  $(BUILD)/mvtool circshift 0 1 $(BUILD)/run-cg2 $(BUILD)/run-r1 && $(BUILD)/mvtool circshift -- 0 -1 $(BUILD)/run-cg2 $(BUILD)/run-r2 && \
	  $(BUILD)/mvtool saxpy 1 $(BUILD)/run-r1 $(BUILD)/run-r2 $(BUILD)/run-r12 && $(BUILD)/mvtool saxpy 1 $(BUILD)/run-cg2 $(BUILD)/run-r12 $(BUILD)/run-r3 && \
	  printf "conv 1 with [1 1 1] against the sum of three rolls (bart conv; nrmse): " && $(BUILD)/mvtool nrmse $(BUILD)/run-r3 $(BUILD)/run-cv
	$(BUILD)/mvtool ones 1 5 $(BUILD)/run-w5 && $(BUILD)/mvtool window 1 $(BUILD)/run-w5 $(BUILD)/run-w5h && \
	  echo "window 1 of five ones (bart window, Hamming):" && $(BUILD)/mvtool show $(BUILD)/run-w5h
	$(BUILD)/mvtool phantom $(BUILD)/run-p.nii --size 32 --dtype int16 && \
	  $(BUILD)/mvtool merge $(BUILD)/run-m.nii.gz $(BUILD)/run-p.nii $(BUILD)/run-p.nii && \
	  $(BUILD)/mvtool frames $(BUILD)/run-m.nii.gz $(BUILD)/run-f.nii 1 && \
	  $(BUILD)/mvtool stats $(BUILD)/run-p.nii $(BUILD)/run-f.nii && \
	  cat $(BUILD)/run-m.nii.gz | $(BUILD)/mvtool stats - && \
	  $(BUILD)/mvtool convert $(BUILD)/run-p.nii - --compress --dtype float32 | $(BUILD)/mvtool stats - && \
	  $(BUILD)/mvtool stats $(BUILD)/run-p.nii -k $(BUILD)/run-f.nii -P 5,50,95 && \
	  $(BUILD)/mvtool convert $(BUILD)/run-p.nii $(BUILD)/run-p.mha --compress --dtype float32 && \
	  $(BUILD)/mvtool convert $(BUILD)/run-p.mha $(BUILD)/run-p.mhd --set "PatientName:=Shepp^Logan" && \
	  $(BUILD)/mvtool info $(BUILD)/run-p.mhd && $(BUILD)/mvtool stats $(BUILD)/run-p.mha && \
	  $(BUILD)/mvtool convert $(BUILD)/run-m.nii.gz $(BUILD)/run-m.mgz --dtype float32 && \
	  $(BUILD)/mvtool info $(BUILD)/run-m.mgz && $(BUILD)/mvtool stats $(BUILD)/run-m.mgz && \
	  $(BUILD)/mvtool convert $(BUILD)/run-p.nii $(BUILD)/run-p.nrrd --compress --dtype float32 \
	    --set "Segment0_Name:=Shepp-Logan head" --set "note:=medvol make run" \
	    --set "NRRD_labels[2]:=inferior-superior" --set "NRRD_content:=Shepp-Logan phantom" && \
	  $(BUILD)/mvtool info $(BUILD)/run-p.nrrd | grep -A7 "^key/values" && \
	  $(BUILD)/mvtool reorient $(BUILD)/run-p.nrrd $(BUILD)/run-p-sra.nrrd SRA && \
	  $(BUILD)/mvtool info $(BUILD)/run-p-sra.nrrd | grep "NRRD_labels" && \
	  $(BUILD)/mvtool convert $(BUILD)/run-p-sra.nrrd $(BUILD)/run-p-sra.nii && \
	  $(BUILD)/mvtool convert $(BUILD)/run-m.nii.gz $(BUILD)/run-m.nhdr --dtype float32 && \
	  $(BUILD)/mvtool info $(BUILD)/run-m.nhdr && $(BUILD)/mvtool stats $(BUILD)/run-p.nrrd && \
	  printf '0 1000\n' > $(BUILD)/run-m.bval && printf '0 0.6\n0 0\n0 0.8\n' > $(BUILD)/run-m.bvec && \
	  $(BUILD)/mvtool convert $(BUILD)/run-m.nii.gz $(BUILD)/run-dwi.nhdr --dtype float32 \
	    --bval $(BUILD)/run-m.bval --bvec $(BUILD)/run-m.bvec && \
	  grep DWMRI_ $(BUILD)/run-dwi.nhdr && $(BUILD)/mvtool convert $(BUILD)/run-dwi.nhdr $(BUILD)/run-dwi.nii.gz && \
	  cat $(BUILD)/run-dwi.bval $(BUILD)/run-dwi.bvec
	$(BUILD)/mvtool smooth $(BUILD)/run-p.nii $(BUILD)/run-s.nii 1.5 && \
	  $(BUILD)/mvtool gradient $(BUILD)/run-s.nii $(BUILD)/run-g.nii && \
	  $(BUILD)/mvtool stats $(BUILD)/run-s.nii $(BUILD)/run-g.nii
	printf '0.9928086 -0.1197122 0 1.5\n0.1197122 0.9928086 0 -1\n0 0 1 0.5\n0 0 0 1\n' > $(BUILD)/run-true.txt && \
	  $(BUILD)/mvtool phantom $(BUILD)/run-r.nii --size 48 && \
	  $(BUILD)/mvtool warp $(BUILD)/run-r.nii $(BUILD)/run-r.nii $(BUILD)/run-moved.nii --matrix $(BUILD)/run-true.txt && \
	  $(BUILD)/mvtool register $(BUILD)/run-moved.nii $(BUILD)/run-r.nii --levels 2x1 --out-matrix $(BUILD)/run-reg.txt \
	    --out-elastix $(BUILD)/run-TransformParameters.txt --out-tfm $(BUILD)/run-reg.mat && \
	  cat $(BUILD)/run-reg.txt && \
	  $(BUILD)/mvtool warp $(BUILD)/run-r.nii $(BUILD)/run-moved.nii $(BUILD)/run-mw.nii --tfm $(BUILD)/run-reg.mat && \
	  $(BUILD)/mvtool register $(BUILD)/run-moved.nii $(BUILD)/run-r.nii --levels 2x1 --quiet --out-tfm $(BUILD)/run-reg.h5 && \
	  $(BUILD)/mvtool warp $(BUILD)/run-r.nii $(BUILD)/run-moved.nii $(BUILD)/run-hw.nii --tfm $(BUILD)/run-reg.h5 && \
	  cmp $(BUILD)/run-mw.nii $(BUILD)/run-hw.nii && echo "ITK .h5 and .mat transforms warp alike" && \
	  cp tests/fuzz/corpus/h5/itk_affine_deflate $(BUILD)/run-itk-affine.h5 && \
	  $(BUILD)/mvtool warp $(BUILD)/run-r.nii $(BUILD)/run-r.nii $(BUILD)/run-itkw.nii --tfm $(BUILD)/run-itk-affine.h5 && \
	  echo "ITK 5.4's compressed .h5 (deflate in chunks, as ANTs writes it) applied" && \
	  cp tests/fuzz/corpus/h5/sitk_bspline_composite $(BUILD)/run-sitk-bspline.h5 && \
	  $(BUILD)/mvtool tfm-field $(BUILD)/run-sitk-bspline.h5 $(BUILD)/run-r.nii $(BUILD)/run-bspline-field.nii.gz && \
	  $(BUILD)/mvtool warp $(BUILD)/run-r.nii $(BUILD)/run-r.nii $(BUILD)/run-bsw.nii --tfm $(BUILD)/run-sitk-bspline.h5 && \
	  echo "SimpleITK's .h5 composite [Affine, BSplineTransform]: its displacement field and its warp" && \
	  cp tests/fuzz/corpus/h5/sitk_field_inverse_composite $(BUILD)/run-sitk-field-inverse.h5 && \
	  $(BUILD)/mvtool warp $(BUILD)/run-r.nii $(BUILD)/run-r.nii $(BUILD)/run-dfw.nii --tfm $(BUILD)/run-sitk-field-inverse.h5 && \
	  echo "ANTs' inverse layout [DisplacementFieldTransform, Affine] (SimpleITK's .h5) applied" && \
	  $(BUILD)/mvtool warp $(BUILD)/run-r.nii $(BUILD)/run-moved.nii $(BUILD)/run-ew.nii --elastix $(BUILD)/run-TransformParameters.txt && \
	  $(BUILD)/mvtool elastix-field $(BUILD)/run-TransformParameters.txt $(BUILD)/run-elastix-field.nii.gz && \
	  mkdir -p $(BUILD)/run-transformix && printf 'point\n2\n0 0 0\n10 -5 3\n' > $(BUILD)/run-points.txt && \
	  $(BUILD)/mvtool transformix -tp $(BUILD)/run-TransformParameters.txt -out $(BUILD)/run-transformix \
	    -def $(BUILD)/run-points.txt -in $(BUILD)/run-r.nii -jac all -jacmat all && cat $(BUILD)/run-transformix/outputpoints.txt && \
	  printf '# vtk DataFile Version 3.0\nlandmarks\nASCII\nDATASET POLYDATA\nPOINTS 2 float\n0 0 0\n10 -5 3\nLINES 1 3\n2 0 1\n' \
	    > $(BUILD)/run-mesh.vtk && \
	  $(BUILD)/mvtool transformix -tp $(BUILD)/run-TransformParameters.txt -out $(BUILD)/run-transformix -def $(BUILD)/run-mesh.vtk && \
	  cat $(BUILD)/run-transformix/outputpoints.vtk && \
	  sed -e 's|^(Transform "AffineTransform")|(Transform "DeformationFieldTransform")|' $(BUILD)/run-TransformParameters.txt \
	    > $(BUILD)/run-TP-field.txt && \
	  printf '(DeformationFieldFileName "run-elastix-field.nii.gz")\n(DeformationFieldInterpolationOrder 1)\n' \
	    >> $(BUILD)/run-TP-field.txt && \
	  $(BUILD)/mvtool transformix -tp $(BUILD)/run-TP-field.txt -out $(BUILD)/run-transformix -def $(BUILD)/run-points.txt && \
	  echo "elastix's DeformationFieldTransform of that field (linear: the affine's points again):" && \
	  cat $(BUILD)/run-transformix/outputpoints.txt && \
	  $(BUILD)/mvtool tfm-convert $(BUILD)/run-TP-field.txt $(BUILD)/run-TP-field-itk.h5 && \
	  printf 'x,y,z\n0,0,0\n10,-5,3\n' > $(BUILD)/run-points.csv && \
	  $(BUILD)/mvtool tfm-points $(BUILD)/run-TP-field-itk.h5 $(BUILD)/run-points.csv $(BUILD)/run-points-itk.csv && \
	  echo "the same chain converted to ITK's .h5 (for SimpleITK/ANTs/Slicer), its points (LPS):" && \
	  cat $(BUILD)/run-points-itk.csv && \
	  mkdir -p $(BUILD)/run-transformix-back && \
	  $(BUILD)/mvtool tfm-convert $(BUILD)/run-TP-field-itk.h5 $(BUILD)/run-TP-back.txt --elastix --ref $(BUILD)/run-r.nii && \
	  $(BUILD)/mvtool transformix -tp $(BUILD)/run-TP-back.txt -out $(BUILD)/run-transformix-back -def $(BUILD)/run-points.txt && \
	  echo "and that .h5 as elastix files again (for transformix), its points:" && \
	  cat $(BUILD)/run-transformix-back/outputpoints.txt
	$(BUILD)/mvtool demons $(BUILD)/run-r.nii $(BUILD)/run-moved.nii $(BUILD)/run-field.nii.gz --out $(BUILD)/run-dw.nii \
	    2> $(BUILD)/run-demons.log && tail -1 $(BUILD)/run-demons.log && \
	  $(BUILD)/mvtool jacobian $(BUILD)/run-field.nii.gz $(BUILD)/run-jac.nii
	$(BUILD)/mvtool register $(BUILD)/run-r.nii $(BUILD)/run-moved.nii --transform bspline --out-field $(BUILD)/run-bsp.nii.gz \
	    --out $(BUILD)/run-bw.nii --out-tfm $(BUILD)/run-bsp.h5 2> $(BUILD)/run-bsp.log && tail -1 $(BUILD)/run-bsp.log && \
	  $(BUILD)/mvtool warp $(BUILD)/run-r.nii $(BUILD)/run-moved.nii $(BUILD)/run-bw-itk.nii --tfm $(BUILD)/run-bsp.h5 && \
	  echo "the B-spline written as ITK's BSplineTransform (.h5, for SimpleITK/ANTs/Slicer) and applied from it" && \
	  $(BUILD)/mvtool register $(BUILD)/run-r.nii $(BUILD)/run-moved.nii --transform syn --out-field $(BUILD)/run-syn.nii.gz \
	    --out $(BUILD)/run-sw.nii 2> $(BUILD)/run-syn.log && tail -1 $(BUILD)/run-syn.log && \
	  $(BUILD)/mvtool register $(BUILD)/run-moved.nii $(BUILD)/run-r.nii --transform syn --init-matrix $(BUILD)/run-reg.txt \
	    --quiet --out-field $(BUILD)/run-syn.h5 --out $(BUILD)/run-shw.nii && \
	  $(BUILD)/mvtool warp-field $(BUILD)/run-r.nii $(BUILD)/run-moved.nii $(BUILD)/run-shw2.nii --field $(BUILD)/run-syn.h5 \
	    --fill 0 && cmp $(BUILD)/run-shw.nii $(BUILD)/run-shw2.nii && \
	  echo "SyN after the affine as one ITK .h5 composite (ANTs' --write-composite-transform): warp-field applies it as register did" && \
	  $(BUILD)/mvtool register $(BUILD)/run-r.nii $(BUILD)/run-moved.nii --transform bspline --levels 4x2 \
	    --out $(BUILD)/run-bwl.nii 2> $(BUILD)/run-bspl.log && grep -h 'shrunk\|full-resolution' $(BUILD)/run-bspl.log
	$(BUILD)/mvtool math $(BUILD)/run-s.nii -thr 0.3 -bin $(BUILD)/run-mask.nii && \
	  $(BUILD)/mvtool label $(BUILD)/run-mask.nii $(BUILD)/run-lab.nii --largest 1 && \
	  $(BUILD)/mvtool edt $(BUILD)/run-mask.nii $(BUILD)/run-edt.nii && \
	  $(BUILD)/mvtool stats $(BUILD)/run-mask.nii $(BUILD)/run-lab.nii $(BUILD)/run-edt.nii
	$(BUILD)/mvtool phantom $(BUILD)/run-q.nii --size 32 --kind smooth && \
	  $(BUILD)/mvtool merge $(BUILD)/run-bold.nii.gz $(BUILD)/run-p.nii $(BUILD)/run-s.nii $(BUILD)/run-q.nii && \
	  $(BUILD)/mvtool corr-seed $(BUILD)/run-bold.nii.gz $(BUILD)/run-corr.nii --voxel 16,16,16 && \
	  $(BUILD)/mvtool stats $(BUILD)/run-corr.nii

# ---- benchmarks against peer tools (their libraries are bench dependencies only) ----
# apt-get install zlib1g-dev libdeflate-dev libisal-dev
$(BUILD)/gzip_bench: bench/gzip_bench.c medvol.h examples/profile.h | $(BUILD)
	$(CC) $(CFLAGS) -std=c99 -Wall -Wextra $(XFLAGS) $(TOOLDEF) -o $@ $< -lz -ldeflate -lisal $(LDLIBS)
bench-gzip: $(BUILD)/gzip_bench
	$(BUILD)/gzip_bench 256 5
# apt-get install libfftw3-dev python3-scipy: medvol vs FFTW_MEASURE vs scipy.fft
$(BUILD)/fft_bench: bench/fft_bench.c medvol.h | $(BUILD)
	$(CC) $(CFLAGS) $(WFLAGS) $(XFLAGS) $(TOOLDEF) -DBENCH_DIR='"bench"' -o $@ $< $(FFTW_LIBS) $(LDLIBS)
bench-fft: $(BUILD)/fft_bench
	$(BUILD)/fft_bench

# medvol side by side with numpy/scipy, nibabel, torch, MONAI, TorchIO, medrs,
# SimpleITK (bench/README.md). Sets up its own venv (bench/.venv) and Debian
# packages; never part of make test. BENCH_ARGS passes flags to bench/bench.py
# (e.g. BENCH_ARGS="--large" or "--only znorm").
BENCH_PY  := bench/.venv/bin/python
# FFT and MRI rows: bench/mvbench_mri.c; the resample shim only once medvol.h has the resample API;
# labels, EDT and erosion for bench/morph_vs_peers.py: bench/mvbench_morph.c
MVB_SRC   := bench/mvbench.c bench/mvbench_mri.c bench/mvbench_morph.c \
             $(shell grep -q 'mv_resample_shape' medvol.h && echo bench/mvbench_resample.c)
$(BUILD)/libmvbench.so: bench/mvbench.c bench/mvbench_mri.c bench/mvbench_resample.c bench/mvbench_morph.c bench/mvbench.h \
                        medvol.h | $(BUILD)
	$(CC) -O2 -fPIC -shared -std=c99 -Wall -Wextra -Wpedantic -Wmissing-prototypes $(XFLAGS) $(TOOLDEF) \
	  -o $@ $(MVB_SRC) $(LDLIBS)
# linear registration beside elastix, SimpleITK and greedy (bench/register_bench.py; Debian's python3 with
# SimpleITK and picsl_greedy from PyPI, elastix from Debian): wall time and TRE on a real brain moved by known transforms
bench-register: $(BUILD)/mvtool
	/usr/bin/python3 bench/register_bench.py $(BENCH_ARGS)
# a 17320^2 (300 MP) uint8 woven-fabric pair with a known smooth deformation: medvol's large-image B-spline mode
# (and OpenCV DIS with BENCH_ARGS=--dis); Debian's python3 (numpy, scipy, nibabel; python3-opencv for --dis)
bench-large2d: $(BUILD)/mvtool
	/usr/bin/python3 bench/large2d_bench.py $(BENCH_ARGS)
# 3D deformable: medvol's B-spline, SyN and demons beside greedy, SimpleITK demons and elastix B-spline on
# the 1 mm MNI brain moved by a known smooth field (bench/deformable3d_bench.py; Debian's python3)
bench-deformable3d: $(BUILD)/mvtool
	/usr/bin/python3 bench/deformable3d_bench.py $(BENCH_ARGS)
# mvtool transformix beside elastix's transformix (Debian's elastix) on a 256^3 affine + B-spline chain:
# -def all and -in (orders 1, 3), outputs compared first (bench/transformix_bench.py; Debian's python3)
bench-transformix: $(BUILD)/mvtool
	/usr/bin/python3 bench/transformix_bench.py $(BUILD)/mvtool 256 $(or $(BENCH_ARGS),5)
# an ANTs/fMRIPrep-sized compressed ITK .h5 composite (affine + MNI-grid field) read and rewritten by medvol beside
# SimpleITK and h5py, outputs checked first (bench/h5_field_bench.py; Debian's python3 with h5py, nibabel,
# SimpleITK; ctypes on build/libmedvol_bench.so)
bench-h5:
	/usr/bin/python3 bench/h5_field_bench.py $(BENCH_ARGS)
# an ITK [Affine, BSplineTransform] .h5's field on the MNI grid beside SimpleITK's
# TransformToDisplacementField (bench/itk_bspline_bench.py; ctypes on build/libmedvol_bench.so)
bench-itk-bspline:
	/usr/bin/python3 bench/itk_bspline_bench.py $(BENCH_ARGS)
# the analysis kernels beside numpy and multipletau, outputs checked first (bench/analysis_bench.py;
# Debian's python3 with numpy and multipletau; ctypes on build/libmedvol_bench.so)
bench-analysis:
	/usr/bin/python3 bench/analysis_bench.py $(BENCH_ARGS)
# labelling, EDT and ball erosion beside scipy.ndimage, scikit-image, cc3d, edt, SimpleITK (and MONAI /
# TorchIO where importable): Debian's python3 (bench/morph_vs_peers.py says what to pip install)
bench-morph: $(BUILD)/libmvbench.so
	/usr/bin/python3 bench/morph_vs_peers.py $(BENCH_ARGS)
bench-setup:
	@bench/setup.sh
bench: bench-setup $(BUILD)/libmvbench.so
	$(BENCH_PY) bench/bench.py run $(BENCH_ARGS)
bench-quick: bench-setup $(BUILD)/libmvbench.so
	$(BENCH_PY) bench/bench.py run --quick --out $(BUILD)/bench-quick.md $(BENCH_ARGS)
bench-check: bench-setup $(BUILD)/libmvbench.so
	$(BENCH_PY) bench/bench.py check $(BENCH_ARGS)
bench-baseline: bench-setup $(BUILD)/libmvbench.so
	$(BENCH_PY) bench/bench.py baseline $(BENCH_ARGS)

# ---- tests: one suite binary per configuration -------------------------------
# The suites are compiled without -g: debug information is a quarter of the
# compile time of the header, and make test compiles it a dozen times. The
# sanitizer suites keep it (their reports give lines); to debug another
# suite, make build/tests-nosimd TEST_CFLAGS="-O2 -g".
TEST_CFLAGS ?= $(filter-out -g,$(CFLAGS))
# $(call suite,name,compiler,extra flags[,test files[,isa]]): with "isa", the
# suite's configuration is tests/test_isa.c's own, and that file's copy of the
# implementation is the suite's (MVT_ISA_IMPLEMENTS) instead of a second
# compile of the header from tests/medvol_impl.c
define suite
$(BUILD)/tests-$(1): $(or $(4),$(TEST_SRC)) tests/medvol_impl.c tests/*.h medvol.h | $(BUILD)
	$(2) $(TEST_CFLAGS) $(WFLAGS) $(XFLAGS) $(3) $(if $(5),-DMVT_ISA_IMPLEMENTS) -o $$@ $(or $(4),$(TEST_SRC)) \
	  $(if $(5),,tests/medvol_impl.c) $(LDLIBS)
endef
# Some suites are built from part of the test files (MVT_PARTIAL_SUITE,
# tests/test_main.c: a selected test whose file is left out fails, so each
# leaves its tests out with --skip or runs a --filter of the others).
# test_isa.c and test_alloc.c each compile a private copy of the whole
# implementation (~30 s each with every x86 level, more under a sanitizer):
#  - the TSan and FFTW suites never run them (the FFTW suite's --filter
#    "fft." takes the nufft tests too);
#  - the no-threads and C++ suites skip both: test_isa.c compiles every ISA
#    itself whatever the suite's flags, and test_alloc.c fixes its own
#    configuration (no threads, no stdio), so there they would repeat the
#    default suite's compiler and code;
#  - the clang, no-SIMD and NEON suites skip test_alloc.c (another
#    compiler, kernel set or target for the same allocation paths, which
#    are portable C: each failure injected is a branch in code no ISA
#    changes) and keep test_isa.c: every kernel through that code
#    generation, against its scalar reference.
# Both run in the default and ASan+UBSan suites (where a leak on a failure
# path is found); in the ASan, clang, no-SIMD and NEON suites test_isa.c's
# copy is the suite's implementation (its configuration is theirs). The clang
# suite is clang -O2 -march=native with runtime dispatch: every ISA's kernels
# and the code around them in clang's code generation for this CPU, from one
# compile of the header (a second, without dispatch, cost ~55 s; compile-time
# ISA selection from -march=native runs in the C++ suite, g++). The clang
# suite is in make test-extended (see there).
# test_alloc.c is compiled at -O0 in both, into its own object: its tests
# fail allocations and check statuses and leaks, which the optimizer does not
# change (they run 0.3 s at -O0 under ASan+UBSan, 0.1 s at -O1), while its
# copy of the implementation cost 150 s of CPU under ASan+UBSan at -O1 (31 s
# at -O0) and 36 s with gcc -O2 (15 s at -O0). gcc's flow warnings for its
# configuration come from test-configs' -O1 builds (CONFIGS_OPT).
TEST_SRC_TSAN := $(filter-out tests/test_isa.c tests/test_alloc.c,$(TEST_SRC))
TEST_SRC_FFTW := tests/test_main.c tests/test_fft.c tests/test_fft_plan.c tests/test_nufft.c
TEST_SRC_NO_ISA_ALLOC := $(TEST_SRC_TSAN)
TEST_SRC_NO_ALLOC := $(filter-out tests/test_alloc.c,$(TEST_SRC))
# the default suite links build/medvol.o, the implementation object libmedvol.a,
# the CUDA half and test-symbols also use (same flags: one compile of the
# header for the four, ~40 s each)
$(BUILD)/tests-default: $(TEST_SRC_NO_ALLOC) tests/*.h medvol.h $(BUILD)/medvol.o $(BUILD)/alloc-default.o | $(BUILD)
	$(CC) $(TEST_CFLAGS) $(WFLAGS) $(XFLAGS) $(TOOLDEF) -o $@ $(TEST_SRC_NO_ALLOC) $(BUILD)/alloc-default.o $(BUILD)/medvol.o $(LDLIBS)
$(BUILD)/alloc-default.o: tests/test_alloc.c tests/*.h medvol.h | $(BUILD)
	$(CC) $(TEST_CFLAGS) -O0 $(WFLAGS) $(XFLAGS) $(TOOLDEF) -c -o $@ tests/test_alloc.c
# (flags with commas go through a variable: $(call) splits its arguments first)
# The sanitizer builds keep line tables only (-gline-tables-only): their
# reports and stack traces give file and line; full debug information cost a
# tenth of each of these compiles (231 s -> 205 s for tests/test_isa.c here)
SAN_DEBUG  := -gline-tables-only
# The ASan+UBSan suite leaves out three of UBSan's checks, which were 208 of
# the 369 s clang took to compile test_isa.c's copy of the implementation
# (every ISA) under both sanitizers (2026-11-29, 2-core EPYC): null (a null
# dereference is a SEGV that ASan reports with its stack anyway),
# pointer-overflow (pointer arithmetic wrapping the address space; an access
# it leads to is ASan's) and alignment (misaligned typed accesses: the
# parsers, where unaligned reads of file bytes would be, keep all three in
# the libFuzzer builds that replay the corpora in make test, FUZZ_FLAGS)
UBSAN_LIGHT := -fno-sanitize=null,pointer-overflow,alignment
ASAN_FLAGS := -O1 $(SAN_DEBUG) -fsanitize=address,undefined $(UBSAN_LIGHT) -fno-sanitize-recover=all -fno-omit-frame-pointer
$(eval $(call suite,asan,clang,$(ASAN_FLAGS) -DMEDVOL_RUNTIME_DISPATCH,$(TEST_SRC_NO_ALLOC) $(BUILD)/alloc-asan.o,isa))
$(BUILD)/alloc-asan.o: tests/test_alloc.c tests/*.h medvol.h | $(BUILD)
	clang $(TEST_CFLAGS) $(WFLAGS) $(XFLAGS) $(ASAN_FLAGS) -O0 -DMEDVOL_RUNTIME_DISPATCH -c -o $@ tests/test_alloc.c
$(eval $(call suite,nosimd,$(CC),-DMEDVOL_NO_SIMD -DMVT_PARTIAL_SUITE,$(TEST_SRC_NO_ALLOC),isa))
$(eval $(call suite,nothreads,$(CC),-DMEDVOL_NO_THREADS -march=native -DMVT_PARTIAL_SUITE,$(TEST_SRC_NO_ISA_ALLOC)))
$(eval $(call suite,clang,clang,-march=native -DMEDVOL_RUNTIME_DISPATCH -DMVT_PARTIAL_SUITE,$(TEST_SRC_NO_ALLOC),isa))
# ThreadSanitizer over the threaded load, gzip and pool paths (the whole suite
# would take too long under TSan on 2 cores)
$(eval $(call suite,tsan,clang,-O1 $(SAN_DEBUG) -fsanitize=thread -DMEDVOL_RUNTIME_DISPATCH -DMVT_PARTIAL_SUITE,$(TEST_SRC_TSAN)))

# (-O1: this suite checks that the header is C++ and runs as C++; g++'s
# warnings come from its front end, and -O1 compiles in 45 s against 71 s at
# -O2 here, for 6 s more of running.) It is also make test's no-threads
# build, with the ISA picked at compile time from -march=native: the C
# no-threads suite (gcc -O2, test-nothreads) repeated it at 133 CPU-seconds
# and is in make test-extended; gcc's flow warnings for MEDVOL_NO_THREADS
# come from test-configs' -O1 build of the firmware configuration
CXX_SUITE_FLAGS := -DMEDVOL_NO_THREADS -march=native
$(BUILD)/tests-cxx: $(TEST_SRC_NO_ISA_ALLOC) tests/medvol_impl.c tests/*.h medvol.h | $(BUILD)
	$(CXX) $(TEST_CFLAGS) -O1 $(subst -std=c99,-std=c++11,$(filter-out -Wstrict-prototypes -Wmissing-prototypes,$(WFLAGS))) \
	  $(XFLAGS) $(CXX_SUITE_FLAGS) -DMVT_PARTIAL_SUITE -x c++ -o $@ $(TEST_SRC_NO_ISA_ALLOC) tests/medvol_impl.c \
	  $(LDLIBS)

# MEDVOL_USE_FFTW: the FFT tests again with mv_fft_* on fftwf (apt-get install libfftw3-dev);
# only this suite and profile_fft_vs_fftw link FFTW, the library never needs it
# (-O1: this suite checks the routing to FFTW, and compiles faster)
$(BUILD)/tests-fftw: $(TEST_SRC_FFTW) tests/medvol_impl.c tests/*.h medvol.h | $(BUILD)
	$(CC) $(TEST_CFLAGS) -O1 $(WFLAGS) $(XFLAGS) -DMEDVOL_USE_FFTW -DMEDVOL_RUNTIME_DISPATCH -DMVT_PARTIAL_SUITE -o $@ \
	  $(TEST_SRC_FFTW) tests/medvol_impl.c $(FFTW_LIBS) $(LDLIBS)

# The algorithm-level tests (registration and reconstruction recovering known
# answers, transport physics, multi-threaded stress and peer comparisons):
# seconds each natively, minutes under qemu. They run in the default and
# ASan+UBSan suites; the no-SIMD, C++, clang, no-threads and NEON suites, which
# exist to compile and run every kernel in their configuration, skip them:
# each of these tests' kernels is also covered there by a faster ISA/thread
# identity or reference test (and the scalar reference the no-SIMD build
# runs is every ISA test's "ref" row in the default suite).
SLOW_TESTS := transport.lateral_spread transport.pstar_range transport.conservation_every_step transport.bragg_kleeman \
  warp.large_map fft.threads_identical fft.measured_plans register.recovers register.threads_and_seed \
  field.threads_identical field.demons_recovers gzip.roundtrip_levels integrity.damaged_gzip integrity.parallel_indexed \
  integrity.thread_errors mri.phantom_and_sense stats.deterministic bspline.recovers bspline.cost_gradient \
  bspline.field_matches syn.recovers syn.local_intensity syn.init_matrix syn.lncc_matches regspeed.auto_sampling \
  regspeed.jitter regspeed.finest_level recon.cgsense_matches_bart recon.ecalib_matches_bart recon.grappa_bart_phantom \
  recon.grappa_medvol_phantom recon.cgsense_nc_matches_bart nufft.threads_identical morph.isa_and_threads_identical \
  recon.l1_tv_match_bart_pics recon.espirit_maps_match_bart_pics \
  recon.pics_step_eigen_matches_bart
SKIP_SLOW := $(addprefix --skip ,$(SLOW_TESTS))

test-quick: $(BUILD)/tests-default
	$(BUILD)/tests-default
# The ASan+UBSan suite runs the algorithm-level tests too, but for the
# second recovery of a family whose drivers another one already takes
# through every loop under the sanitizers (15-19 s each here): B-spline on
# the MNI brain (bspline.recovers_known_field_3d stays), SyN's local
# intensity change (syn.recovers_* stay), the PSTAR ranges (transport's
# conservation, Bragg-Kleeman and lateral-spread runs stay) and automatic
# sampling (regspeed.jitter and finest_level stay); GRAPPA on BART's phantom
# against pygrappa (grappa_medvol_phantom stays), SyN after an affine
# (syn.recovers_* stay) and BART's pics -l1/-R T (recon.l1_wavelet_analytic
# and recon.tv_analytic take FISTA, ADMM and the wavelet through their loops)
ASAN_SKIP := bspline.recovers_known_field_mni syn.local_intensity_change transport.pstar_range regspeed.auto_sampling \
  recon.grappa_bart_phantom_vs_pygrappa syn.init_matrix recon.l1_tv_match_bart_pics
test-asan: $(BUILD)/tests-asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/tests-asan $(addprefix --skip ,$(ASAN_SKIP))
test-nosimd: $(BUILD)/tests-nosimd
	$(BUILD)/tests-nosimd $(SKIP_SLOW) --skip alloc.
test-nothreads: $(BUILD)/tests-nothreads
	$(BUILD)/tests-nothreads $(SKIP_SLOW) --skip isa. --skip alloc.
test-cxx: $(BUILD)/tests-cxx
	$(BUILD)/tests-cxx $(SKIP_SLOW) --skip isa. --skip alloc.
# (one repetition of the repeated thread tests, MEDVOL_TEST_REPS: TSan
# reports a race from the accesses' missing happens-before order in any run
# that makes them, not only when the timing goes wrong; and at most 3
# threads, MEDVOL_TEST_MAX_THREADS: two tasks meeting is what TSan checks,
# and three give an interior split)
test-tsan: $(BUILD)/tests-tsan
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" MEDVOL_TEST_REPS=1 MEDVOL_TEST_MAX_THREADS=3 $(BUILD)/tests-tsan \
	  --filter integrity.parallel --filter integrity.thread --filter integrity.gzip_streams --filter resample.isa_and_threads --filter dtype.convert_threads --filter gzip.member_index \
	  --filter analysis.cache --filter analysis.isa_and_threads --filter math.isa_and --filter register.threads --filter register.setup --filter register.elastix_field_threads --filter register.itk_h5_threads \
	  --filter filter.every_isa --filter filter.pyramid --filter field.threads --filter transport.isa_threads --filter warp.large \
	  --filter metaimage.threads --filter mgh.threads --filter nrrd.threads --filter nrrd.dwi --filter gzip.single_member --filter gzip.one_member --filter morph.label_matches --filter morph.edt_matches --filter morph.binary_morph --filter analysis.seed \
	  --filter fft.threads_identical --filter fft.measured_plans --filter nufft.threads_identical \
	  --filter recon.isa_and_threads --filter recon.grappa_threads --filter bspline.cost_gradient --filter bspline.large_2d --filter syn.lncc_threads \
	  --filter regspeed.metric_loops_threads --filter regspeed.jitter --filter analysis.twotime_paths --filter recon.cgsense_chunked --filter recon.l1_tv --filter recon.maps_threads --filter recon.llr_threads --filter recon.weights --filter recon.start --filter recon.subspace --filter recon.nlinv --filter recon.cc_matches --filter recon.homodyne --filter mri.fftmod_threads \
	  --filter ops.histogram_percentiles_threads --filter mri.noise_whiten --filter nufft.estdelay --filter recon.tv_denoise --filter recon.caldir --filter recon.walsh --filter recon.ecal_two --filter recon.pocsense --filter recon.sake --filter recon.ecalib_soft --filter recon.estvar --filter recon.wavelet_bart --filter recon.cdf97 --filter recon.exp_fit
test-clang: $(BUILD)/tests-clang
	$(BUILD)/tests-clang $(SKIP_SLOW) --skip alloc.
test-fftw: $(BUILD)/tests-fftw
	$(BUILD)/tests-fftw --filter fft.

# every configuration macro compiles warning-free in C and C++; contradictions fail.
# gcc compiles the configurations that change much code with the optimizer
# on (its maybe-uninitialized and other flow warnings need it), each once in
# make test: CONFIGS_OPT here at -O1; the bare configuration in test-install
# (its pkg-config C build, -O1), -DMEDVOL_NO_SIMD in the no-SIMD suite (-O2),
# -DMEDVOL_NO_THREADS and -march=native together in the C++ suite (g++ -O1;
# gcc -O2 in make test-extended's no-threads suite),
# -DMEDVOL_RUNTIME_DISPATCH in build/medvol.o (-O2) and at release
# optimization (-O3 -DNDEBUG: warnings -O1 does not give after inlining) in
# test-install's CMake Release build (C, make test-extended; its pkg-config
# C++ build is -O0), and -DMEDVOL_USE_FFTW in the FFTW suite (-O1, make
# test-extended) (CONFIGS_ELSEWHERE); gcc checks the rest with -fsyntax-only
# in make test-extended (test-configs-gcc-front, 57 CPU-seconds). clang's
# and g++'s warnings come from their front ends, so -fsyntax-only finds them
# for every configuration (in make test).
# (A full -O1 compile of the header takes ~20 s: 17 configurations x 3
# compilers was 17 minutes of CI.)
CONFIGS_OPT := "-DMEDVOL_NO_STDIO" "-DMEDVOL_NO_STDIO -DMEDVOL_NO_THREADS -DMEDVOL_NO_SIMD"
CONFIGS_ELSEWHERE := "" "-DMEDVOL_NO_SIMD" "-DMEDVOL_RUNTIME_DISPATCH" "-DMEDVOL_USE_FFTW" "-DMEDVOL_NO_THREADS" "-march=native"
CONFIGS_FRONT := "-DMEDVOL_STATIC" "-DMEDVOL_NO_AVX512" "-DMEDVOL_NO_AVX2" "-DMEDVOL_NO_THREAD_LOCAL" \
  "-DMEDVOL_MAX_BYTES=1000000" "-DMEDVOL_CUSTOM_ALLOC" "-DMEDVOL_CUSTOM_ASSERT" \
  "-DMEDVOL_RUNTIME_DISPATCH -DMEDVOL_NO_AVX512" "-DMEDVOL_USE_FFTW -DMEDVOL_NO_THREADS"
test-configs: | $(BUILD)
	@# every struct of the public halves must be in zero_init.c (first: it takes no time)
	@for t in $$(sed -n '/^\/\* >>impl =/q;s/^typedef struct \(mv_[a-z0-9_]*\) *{.*/\1/p' medvol.h; \
	             sed -n '/^#endif \/\* MEDVOL_CUDA_H_INCLUDED/q;s/^typedef struct \(mv_[a-z0-9_]*\) *{.*/\1/p' medvol_cuda.h); do \
	  grep -q "^ *$$t [a-z_]* = MV_ZERO_INIT;" tests/compile/zero_init.c || { echo "FAIL: tests/compile/zero_init.c does not zero $$t"; exit 1; }; \
	done
	@for cfg in $(CONFIGS_OPT); do \
	  $(CC) -std=c99 -O1 -Wall -Wextra -Wpedantic -Werror $$cfg -c tests/compile/config.c -o $(BUILD)/cfg.o \
	    || { echo "FAIL: $(CC) -std=c99 -O1 $$cfg"; exit 1; }; \
	done
	@for cfg in $(CONFIGS_OPT) $(CONFIGS_ELSEWHERE) $(CONFIGS_FRONT); do \
	  for cc in "clang -std=c99" "$(CXX) -std=c++11 -x c++"; do \
	    $$cc -fsyntax-only -Wall -Wextra -Wpedantic -Werror $$cfg tests/compile/config.c || { echo "FAIL: $$cc $$cfg"; exit 1; }; \
	  done; \
	done
	@for cc in "$(CC) -std=c99" "clang -std=c99" "$(CXX) -std=c++11 -x c++"; do \
	  $$cc -O1 -Wall -Wextra -Wpedantic -Werror -c tests/compile/cuda_header.c -o $(BUILD)/cfg.o || { echo "FAIL: $$cc medvol_cuda.h"; exit 1; }; \
	done
	@for cc in "$(CC) -std=c99" "clang -std=c99" "$(CXX) -std=c++11 -x c++" "clang++ -std=c++11 -x c++"; do \
	  $$cc -O1 -Wall -Wextra -Wpedantic -Werror tests/compile/zero_init.c -o $(BUILD)/cfg-zero && $(BUILD)/cfg-zero >/dev/null \
	    || { echo "FAIL: $$cc tests/compile/zero_init.c"; exit 1; }; \
	done
	@$(CC) -std=c99 -O1 -Wall -Wextra -Wpedantic -Werror tests/compile/static_a.c tests/compile/static_b.c -o $(BUILD)/cfg-static $(LDLIBS) && $(BUILD)/cfg-static
	@if $(CC) -std=c99 -DMEDVOL_BAD_PARTIAL_ALLOC -c tests/compile/config.c -o $(BUILD)/cfg.o 2>/dev/null; then echo "FAIL: partial allocator override compiled"; exit 1; fi
	@if $(CC) -std=c99 -DMEDVOL_RUNTIME_DISPATCH -DMEDVOL_NO_SIMD -c tests/compile/config.c -o $(BUILD)/cfg.o 2>/dev/null; then echo "FAIL: RUNTIME_DISPATCH+NO_SIMD compiled"; exit 1; fi
	@echo "configs: ok"

# only mv_ names leave the implementation's object file
test-symbols: $(BUILD)/medvol.o
	@bad=$$(nm -g --defined-only $(BUILD)/medvol.o | awk '{print $$3}' | grep -v '^mv_[a-z]' || true); \
	 if [ -n "$$bad" ]; then echo "FAIL: exported symbols outside mv_: $$bad"; exit 1; fi; \
	 if nm -g --defined-only $(BUILD)/medvol.o | awk '{print $$3}' | grep -q '^mv__'; then echo "FAIL: internal mv__ symbol exported"; exit 1; fi
	@echo "symbols: ok ($$(nm -g --defined-only $(BUILD)/medvol.o | wc -l) public)"

# FUZZ_OPT is the optimization of the fuzz build (below), and names its folder
# (build/fuzz-O1/: targets, shared object, grown corpora), so builds at two
# levels never stand in for each other. -O1, the default, is for fuzzing
# campaigns: gunzip runs ~4x the inputs per second it runs at -O0. make test
# builds at -O0, which compiles in a quarter of the time (50 s against 204 s
# on a 2-core Xeon, the largest compile of make test): there the targets only
# replay the corpora, and .ci/run's 10-second smoke run reuses them
# (FUZZ_OPT=-O0 there too).
FUZZ_OPT   ?= -O1
FUZZ_DIR   := $(BUILD)/fuzz$(FUZZ_OPT)

# the fuzz corpora replayed (each file once) by the libFuzzer binaries that
# `make fuzz` then reuses: one ASan+UBSan build per target serves both.
# Without libFuzzer, the same replay with any compiler: make
# $(BUILD)/replay-nifti (tests/fuzz/fuzz_main.c).
FUZZERS := nifti gunzip loadops cfl text metaimage mgh nrrd h5 twix
$(BUILD)/replay-%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_main.c tests/fuzz/fuzz_itk_chain.h medvol.h | $(BUILD)
	$(CC) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all $(WFLAGS) -o $@ $< tests/fuzz/fuzz_main.c $(LDLIBS)
test-fuzz-replay: $(addprefix $(FUZZ_DIR)/,$(FUZZERS))
	@for f in $(FUZZERS); do $(FUZZ_DIR)/$$f tests/fuzz/corpus/$$f/* >$(FUZZ_DIR)/replay-$$f.log 2>&1 \
	  || { tail -30 $(FUZZ_DIR)/replay-$$f.log; exit 1; }; echo "fuzz replay $$f: $$(ls tests/fuzz/corpus/$$f | wc -l) inputs ok"; done

# libFuzzer (clang), each target for FUZZ_SECONDS. The implementation is
# compiled once, with the fuzzer's coverage instrumentation (fuzzer-no-link),
# and linked into every target (MEDVOL_FUZZ_LINKED: the target does not define
# MEDVOL_IMPLEMENTATION itself): one ASan+UBSan compile of the header
# instead of one per target (five were 10 minutes of CI's CPU). Inputs are at
# most 8 KiB, so one gzip member splits across threads from reads of 32 KiB
# (fuzz_gunzip.c checks that it gives what one thread gives).
FUZZ_FLAGS := $(FUZZ_OPT) $(SAN_DEBUG) -fsanitize=address,undefined -fno-sanitize-recover=all -DMEDVOL_RUNTIME_DISPATCH \
  -DMEDVOL_GZIP_PARALLEL_CHUNK=16384
$(FUZZ_DIR):
	mkdir -p $@
$(FUZZ_DIR)/medvol.o: tests/medvol_impl.c medvol.h | $(FUZZ_DIR)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ tests/medvol_impl.c
$(addprefix $(FUZZ_DIR)/,$(FUZZERS)): $(FUZZ_DIR)/%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_itk_chain.h $(FUZZ_DIR)/medvol.o
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer -DMEDVOL_FUZZ_LINKED -o $@ $< $(FUZZ_DIR)/medvol.o $(LDLIBS)
# (one target per fuzzer, so that make -j fuzzes side by side: .ci/run
# runs them on every core)
FUZZ_RUNS := $(addprefix fuzz-run-,$(FUZZERS))
.PHONY: $(FUZZ_RUNS)
fuzz: $(FUZZ_RUNS)
$(FUZZ_RUNS): fuzz-run-%: $(FUZZ_DIR)/%
	@mkdir -p $(FUZZ_DIR)/corpus-$*
	$(FUZZ_DIR)/$* -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -dict=tests/fuzz/$*.dict \
	  $(FUZZ_DIR)/corpus-$* tests/fuzz/corpus/$*

# ---- CUDA companion (medvol_cuda.h) ------------------------------------------
# nvcc from PATH, else /usr/local/cuda/bin (where the CUDA toolkit installs it,
# often not on PATH). make cuda compiles and links the tests and the profile;
# make test runs it whenever nvcc is found, so CI compiles the CUDA half every
# run. Running needs a GPU: test-cuda says "SKIPPED: no CUDA device" and
# exits 0 without one. sm_90 (H100/H200) machine code plus compute_90 PTX,
# which the driver compiles for newer GPUs; set CUDA_ARCH for others, e.g.
#   make cuda CUDA_ARCH="-gencode arch=compute_80,code=sm_80 -gencode arch=compute_80,code=compute_80"
NVCC      ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))
CUDA_ARCH ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
NVCCFLAGS ?= -O3
# cudart is linked statically (nvcc's default, spelled out); cuFFT is linked
# dynamically unless CUDA_FFT_LIB says otherwise, e.g. on a GPU machine that
# has the driver and nothing else: make cuda CUDA_FFT_LIB="-lcufft_static -lculibos"
CUDA_FFT_LIB ?= -lcufft
# fixed: C++17 (the implementation uses if constexpr), host warnings, and no
# warning tolerated from nvcc or the host compiler
NVCC_FIXED := -std=c++17 $(CUDA_ARCH) -Xcompiler -Wall,-Wextra -Werror all-warnings
CUDA_BINS := $(BUILD)/test_cuda $(BUILD)/profile_cuda $(BUILD)/test_cuda_host $(BUILD)/proton_pdd_gpu
# the toolkit's headers, for C files that call the CUDA runtime (proton_pdd's events)
CUDA_INC  := $(if $(NVCC),$(dir $(NVCC))../include)

# medvol.h's implementation by the host C compiler, as a user's C file: the
# object libmedvol.a holds
$(BUILD)/cuda-medvol_impl.o: $(BUILD)/medvol.o
	cp $< $@
# medvol_cuda.h's implementation: the one slow nvcc compile (all kernels)
$(BUILD)/medvol_cuda_impl.o: tests/medvol_cuda_impl.cu medvol_cuda.h medvol.h | $(BUILD)
	$(NVCC) $(NVCCFLAGS) $(NVCC_FIXED) -c -o $@ tests/medvol_cuda_impl.cu
$(BUILD)/test_cuda: tests/test_cuda.cu tests/cuda_test_data.h $(BUILD)/medvol_cuda_impl.o $(BUILD)/cuda-medvol_impl.o
	$(NVCC) $(NVCCFLAGS) $(NVCC_FIXED) -o $@ tests/test_cuda.cu $(BUILD)/medvol_cuda_impl.o $(BUILD)/cuda-medvol_impl.o \
	  -cudart static $(CUDA_FFT_LIB) $(LDLIBS)
# the host-side arithmetic of the CUDA implementation, checked on the host (no
# GPU needed). It launches no kernel, so its device code is never run: PTX
# only, no machine code, and unoptimized (-Xcicc -O0: cicc took 35 of the
# compile's 66 s optimizing kernels nothing calls)
$(BUILD)/test_cuda_host: tests/test_cuda_host.cu tests/cuda_test_data.h medvol_cuda.h medvol.h $(BUILD)/cuda-medvol_impl.o
	$(NVCC) $(NVCCFLAGS) -Xcicc -O0 $(subst code=sm_,code=compute_,$(NVCC_FIXED)) -o $@ tests/test_cuda_host.cu \
	  $(BUILD)/cuda-medvol_impl.o -cudart static $(CUDA_FFT_LIB) $(LDLIBS)
$(BUILD)/profile_cuda: examples/profile_cuda.cu examples/profile.h $(BUILD)/medvol_cuda_impl.o $(BUILD)/cuda-medvol_impl.o
	$(NVCC) $(NVCCFLAGS) $(NVCC_FIXED) -o $@ examples/profile_cuda.cu $(BUILD)/medvol_cuda_impl.o \
	  $(BUILD)/cuda-medvol_impl.o -cudart static $(CUDA_FFT_LIB) $(LDLIBS)
# proton_pdd with --gpu: the C example compiled by the host C compiler as it
# is (PDD_CUDA), linked by nvcc with medvol_cuda.h's implementation
$(BUILD)/proton_pdd_gpu: examples/proton_pdd.c examples/profile.h medvol_cuda.h $(BUILD)/medvol_cuda_impl.o \
                         $(BUILD)/cuda-medvol_impl.o
	$(CC) $(EXFLAGS) -DPDD_CUDA -isystem $(CUDA_INC) -c -o $(BUILD)/proton_pdd_gpu.o $<
	$(NVCC) $(NVCCFLAGS) $(CUDA_ARCH) -o $@ $(BUILD)/proton_pdd_gpu.o $(BUILD)/medvol_cuda_impl.o \
	  $(BUILD)/cuda-medvol_impl.o -cudart static $(CUDA_FFT_LIB) $(LDLIBS)

# (prerequisites, not a recursive make: a sub-make building build/medvol.o
# beside make test's own -j2 build of it compiled the header twice into one file)
ifneq ($(NVCC),)
cuda: $(CUDA_BINS)
	@echo "cuda: compiled and linked with $(NVCC)"
else
cuda:
	@echo "SKIPPED cuda: nvcc not found (not on PATH, no /usr/local/cuda/bin/nvcc)"
endif
# host-side checks (run anywhere), then the GPU suite (SKIPPED without a
# device, exit 0)
test-cuda: cuda
	@if [ -n "$(NVCC)" ]; then $(BUILD)/test_cuda_host && $(BUILD)/test_cuda && tests/test_pdd_gpu.sh $(BUILD); fi
# only mv_cuda_ names leave the CUDA implementation's object (DW.ref.__gxx_personality_v0
# is the C++ runtime's exception personality, emitted for the plan-cache mutex)
test-cuda-symbols: cuda
	@if [ -n "$(NVCC)" ]; then \
	  bad=$$(nm -g --defined-only $(BUILD)/medvol_cuda_impl.o | awk '{print $$3}' | grep -v '^mv_cuda_' | grep -v '^DW\.ref\.__gxx_personality' || true); \
	  if [ -n "$$bad" ]; then echo "FAIL: exported symbols outside mv_cuda_: $$bad"; exit 1; fi; \
	  echo "cuda symbols: ok ($$(nm -g --defined-only $(BUILD)/medvol_cuda_impl.o | wc -l) public)"; fi

# The CUDA half on the CPU: tests/cuda_emu is a CUDA emulator (each GPU thread
# a fiber; stream order, launch limits, barriers, shuffles and copies checked
# as a GPU and compute-sanitizer would; cuFFT in float64) that runs the GPU
# groups of tests/test_cuda.cu without a GPU: a race check (each grid in
# thread order, the result the tests see, then again in reverse from the
# same memory: any byte that differs names the kernel) and ASan+UBSan
# (memcheck's out-of-bounds accesses), each without the slowest groups, and
# the groups the race check leaves out in thread order (EMU_SKIP_*: the
# barrier-heavy metric reductions take 48 s of the 85 s thread-order run;
# cgsense_nc, 29 s of the race check, has its kernels race-checked through
# its two-case group cgsense_nc_race, MV_EMU_VERBOSE=1 lists them). g++ compiles
# medvol_cuda.h after tests/cuda_emu/rewrite.py turns its <<<>>> launches into
# calls. What it cannot show (timings, registers, the real cuFFT) still needs
# a GPU session.
# (-g1: line tables for the backtraces of a failing run, a fifth less compile
# time than -g)
EMU        := $(BUILD)/emu
EMU_PY     := $(or $(wildcard /usr/bin/python3),python3)
EMU_FLAGS  := -std=c++17 -g1 -ffp-contract=off -D__CUDACC__ -Wall -Wextra -Werror -Wno-unknown-pragmas \
              -I tests/cuda_emu/include -I .
EMU_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
EMU_SRC    := tests/cuda_emu/emu_runtime.cc tests/cuda_emu/emu_cufft.cc
EMU_HDRS   := $(wildcard tests/cuda_emu/include/*.h)
EMU_SKIP_RACE ?= metric,metric_lncc,cgsense_nc,large
EMU_SKIP_SAN ?= metric,metric_lncc,cgsense,cgsense_nc,large
$(EMU) $(EMU)/tests:
	mkdir -p $@
$(EMU)/medvol_cuda.h: medvol_cuda.h tests/cuda_emu/rewrite.py | $(EMU)
	$(EMU_PY) tests/cuda_emu/rewrite.py $< $@
$(EMU)/tests/%.cc: tests/%.cu tests/cuda_emu/rewrite.py | $(EMU)/tests
	$(EMU_PY) tests/cuda_emu/rewrite.py $< $@
$(EMU)/tests/cuda_test_data.h: tests/cuda_test_data.h | $(EMU)/tests
	cp $< $@
$(EMU)/test_emu.cc: tests/cuda_emu/test_emu.cu tests/cuda_emu/rewrite.py | $(EMU)
	$(EMU_PY) tests/cuda_emu/rewrite.py $< $@
EMU_DEPS := $(EMU)/medvol_cuda.h $(EMU)/tests/cuda_test_data.h $(EMU)/tests/medvol_cuda_impl.cc $(EMU)/tests/test_cuda.cc \
            $(EMU_SRC) $(EMU_HDRS) medvol.h
# medvol.h's implementation as everywhere (the C compiler's object); the rest by g++
$(EMU)/medvol_cuda_impl.o: $(EMU)/tests/medvol_cuda_impl.cc $(EMU)/medvol_cuda.h $(EMU_HDRS) medvol.h
	$(CXX) $(EMU_FLAGS) -O2 -c -o $@ $<
$(EMU)/emu.a: $(EMU_SRC) $(EMU_HDRS) | $(EMU)
	$(CXX) $(EMU_FLAGS) -O2 -c -o $(EMU)/emu_runtime.o tests/cuda_emu/emu_runtime.cc
	$(CXX) $(EMU_FLAGS) -O2 -c -o $(EMU)/emu_cufft.o tests/cuda_emu/emu_cufft.cc
	rm -f $@ && ar rcs $@ $(EMU)/emu_runtime.o $(EMU)/emu_cufft.o
$(EMU)/test_cuda: $(EMU_DEPS) $(EMU)/medvol_cuda_impl.o $(EMU)/emu.a $(BUILD)/medvol.o
	$(CXX) $(EMU_FLAGS) -O2 -o $@ $(EMU)/tests/test_cuda.cc $(EMU)/medvol_cuda_impl.o $(EMU)/emu.a $(BUILD)/medvol.o $(LDLIBS)
# proton_pdd --gpu on the emulator: the C example compiled by cc against the
# emulator's C runtime API (tests/cuda_emu/include/cuda_runtime_api.h)
$(EMU)/proton_pdd_gpu: examples/proton_pdd.c examples/profile.h medvol_cuda.h $(EMU)/medvol_cuda_impl.o $(EMU)/emu.a \
                       $(BUILD)/medvol.o
	$(CC) $(EXFLAGS) -DPDD_CUDA -I tests/cuda_emu/include -c -o $(EMU)/proton_pdd_gpu.o $<
	$(CXX) -o $@ $(EMU)/proton_pdd_gpu.o $(EMU)/medvol_cuda_impl.o $(EMU)/emu.a $(BUILD)/medvol.o $(LDLIBS)
# (the CUDA half, its tests and the emulator instrumented; medvol.h's host
# implementation is build/medvol.o as it is: its memory checks are the
# ASan+UBSan suite's, and a second sanitized compile of the header here cost
# two minutes of make test)
$(EMU)/test_cuda_san: $(EMU_DEPS) $(BUILD)/medvol.o
	$(CXX) $(EMU_FLAGS) $(EMU_SAN) -O1 -o $@ $(EMU)/tests/test_cuda.cc $(EMU)/tests/medvol_cuda_impl.cc $(EMU_SRC) \
	  $(BUILD)/medvol.o $(LDLIBS)
# examples/profile_cuda.cu on the emulator: a smoke run of every profile row
# (make profile-cuda-emu, not in make test: its fixed-size rows take 1.5
# minutes on the CPU; the times it prints are the emulator's, meaningless)
$(EMU)/examples/profile_cuda.cc: examples/profile_cuda.cu tests/cuda_emu/rewrite.py
	mkdir -p $(EMU)/examples && cp examples/profile.h $(EMU)/examples/
	$(EMU_PY) tests/cuda_emu/rewrite.py $< $@
$(EMU)/profile_cuda: $(EMU)/examples/profile_cuda.cc $(EMU)/medvol_cuda_impl.o $(EMU)/emu.a $(BUILD)/medvol.o
	$(CXX) $(EMU_FLAGS) -O2 -DMEDVOL_EXAMPLE_LINKED -o $@ $< $(EMU)/medvol_cuda_impl.o $(EMU)/emu.a $(BUILD)/medvol.o \
	  $(LDLIBS)
profile-cuda-emu: $(EMU)/profile_cuda
	$(EMU)/profile_cuda 48 1
$(EMU)/test_emu: $(EMU)/test_emu.cc $(EMU)/emu.a
	$(CXX) $(EMU_FLAGS) -O2 -o $@ $(EMU)/test_emu.cc $(EMU)/emu.a $(LDLIBS)
$(EMU)/test_emu_fft: tests/cuda_emu/test_emu_fft.cc $(EMU)/emu.a
	$(CXX) $(EMU_FLAGS) -O2 -o $@ tests/cuda_emu/test_emu_fft.cc $(EMU)/emu.a $(LDLIBS)
# four targets, so that make -j runs them side by side (one after another
# they were the last two minutes of make test, on one core)
# (make test runs the thread-order and race-check runs; the ASan+UBSan
# build, 161 CPU-seconds of g++ and 76 of running on 2026-11-29, and
# proton_pdd --gpu --compare, 50 s (the transport group's race-check run
# compares every operator and step of the GPU with the CPU), are in make
# test-extended)
test-cuda-emu: test-cuda-emu-order test-cuda-emu-race
# (thread order: only the groups the race check leaves out; it runs every
# other grid in thread order first and tests that result, so a second
# thread-order run of those repeated it)
test-cuda-emu-order: $(EMU)/test_emu $(EMU)/test_emu_fft $(EMU)/test_cuda
	@echo "== the emulator's own tests"; $(EMU)/test_emu && $(EMU)/test_emu_fft
	@echo "== tests/test_cuda.cu on the emulator, thread order: $(EMU_SKIP_RACE)"; \
	  MV_CUDA_TEST_ONLY=$(EMU_SKIP_RACE) $(EMU)/test_cuda
test-cuda-emu-pdd: $(EMU)/test_cuda $(EMU)/proton_pdd_gpu
	@echo "== proton_pdd --gpu --compare on the emulator"; tests/test_pdd_gpu.sh $(EMU) quick
	@echo "== no device (MV_EMU_DEVICES=0): proton_pdd's SKIPPED path"; \
	  MV_EMU_DEVICES=0 tests/test_pdd_gpu.sh $(EMU) quick | grep -q "SKIPPED the device runs" && echo ok
test-cuda-emu-race: $(EMU)/test_cuda
	@echo "== no device (MV_EMU_DEVICES=0): test_cuda's SKIPPED path"; \
	  MV_EMU_DEVICES=0 $(EMU)/test_cuda | grep -q "^SKIPPED: no CUDA device" && echo ok
	@echo "== tests/test_cuda.cu on the emulator, race check"; \
	  MV_EMU_RACECHECK=1 MV_CUDA_TEST_SKIP=$(EMU_SKIP_RACE) $(EMU)/test_cuda
test-cuda-emu-san: $(EMU)/test_cuda_san
	@echo "== tests/test_cuda.cu on the emulator, ASan+UBSan"; \
	  MV_CUDA_TEST_SKIP=$(EMU_SKIP_SAN) ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(EMU)/test_cuda_san

# AArch64 NEON: cross-compiled, run under qemu-user (skipped if the tools are missing).
# Under qemu the suite is the longest job of make test (about 5 minutes); it
# leaves out, besides SKIP_SLOW, tests of thread-count determinism and
# cross-tool file checks that run no NEON kernel of their own (the other
# configurations run them natively; the ISA tests, which compare every NEON
# kernel with its scalar reference, all stay). Their threaded runs are done
# once (MEDVOL_TEST_REPS=1): the repetitions hunt races, which the TSan suite
# does natively, and under qemu each costs seconds; and the ISA tests' "1,
# 2, 3 threads" loops stop at 1 (MEDVOL_TEST_MAX_THREADS, testutil.h:
# recon's ecalib and GRAPPA, resample, filter, math, ops: those tests took
# 150 of the suite's 406 s under qemu with every thread count).
NEON_SKIP := $(SKIP_SLOW) $(addprefix --skip ,alloc. bspline.large_2d_threads recon.cgsense_chunked_series \
  regspeed.metric_loops_threads recon.grappa_threads_repeated register.setup_any_threads register.simpleitk_applies)
# make test's NEON run (test-neon) also leaves out the thread-count tests
# that MEDVOL_TEST_MAX_THREADS=1 reduces to one run of portable code, and
# accuracy tests whose NEON kernels an ISA test compares with the scalar
# reference (nufft.isa_matches_reference; analysis.isa_and_threads_identical
# for the multi-tau sums; isa.llr_kernels_match_reference for pics -R L
# against BART; Pipe-Menon per frame has no NEON kernel of its own): 49 of
# the qemu run's 345 s on 2026-11-29, and 49 of 311 s on 2026-11-30.
# make test-neon-full (in make test-extended) runs them too.
NEON_CI_SKIP := $(addprefix --skip ,ops.histogram_percentiles_threads gzip.one_member_on_threads \
  register.elastix_field_threads register.itk_h5_threads metaimage.threads_identical dtype.convert_threads \
  nrrd.threads_identical nufft.matches_nudft analysis.mtau_recovers_gamma recon.llr_match_bart_pics \
  recon.llr_threads_identical recon.maps_threads_identical nufft.dcf_pipe_menon_per_frame)
AARCH64_CC ?= aarch64-linux-gnu-gcc
$(BUILD)/tests-neon: $(TEST_SRC_NO_ALLOC) tests/*.h medvol.h | $(BUILD)
	@if command -v $(AARCH64_CC) >/dev/null && command -v qemu-aarch64 >/dev/null; then \
	  $(AARCH64_CC) $(TEST_CFLAGS) $(WFLAGS) $(XFLAGS) -DMVT_ISA_IMPLEMENTS -DMVT_PARTIAL_SUITE -static -o $@ $(TEST_SRC_NO_ALLOC) $(LDLIBS); \
	else echo "SKIPPED test-neon: needs $(AARCH64_CC) and qemu-aarch64 (apt-get install gcc-aarch64-linux-gnu qemu-user)"; fi
test-neon: $(BUILD)/tests-neon
	@if [ -x $(BUILD)/tests-neon ]; then MEDVOL_TEST_REPS=1 MEDVOL_TEST_MAX_THREADS=1 qemu-aarch64 $(BUILD)/tests-neon $(NEON_SKIP) $(NEON_CI_SKIP); fi
test-neon-full: $(BUILD)/tests-neon
	@if [ -x $(BUILD)/tests-neon ]; then MEDVOL_TEST_REPS=1 MEDVOL_TEST_MAX_THREADS=1 qemu-aarch64 $(BUILD)/tests-neon $(NEON_SKIP); fi

# ---- install: the headers, a pkg-config file and a CMake package ------------
# medvol is header-only, so nothing is compiled: the user's one file with
# MEDVOL_IMPLEMENTATION compiles it. pkg-config --cflags --libs medvol gives
# -I and -lm -lpthread; find_package(medvol) gives the INTERFACE target
# medvol::medvol (include folder, Threads, m), found relative to its own
# folder (GNU realpath computes the way; without it the default layout is
# assumed). DESTDIR stages for packagers.
PREFIX     ?= /usr/local
INCLUDEDIR ?= $(PREFIX)/include
LIBDIR     ?= $(PREFIX)/lib
MEDVOL_VERSION := $(shell sed -n 's/^\#define MEDVOL_VERSION_STRING "\(.*\)"/\1/p' medvol.h)
CMAKEDIR   := $(LIBDIR)/cmake/medvol
install:
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(CMAKEDIR)
	install -m 644 medvol.h medvol_cuda.h $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
	    -e 's|@VERSION@|$(MEDVOL_VERSION)|' packaging/medvol.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/medvol.pc
	sed -e "s|@REL_INCLUDEDIR@|$$(realpath -m --relative-to=$(CMAKEDIR) $(INCLUDEDIR) 2>/dev/null || echo ../../../include)|" \
	    packaging/medvolConfig.cmake.in > $(DESTDIR)$(CMAKEDIR)/medvolConfig.cmake
	sed -e 's|@VERSION@|$(MEDVOL_VERSION)|' packaging/medvolConfigVersion.cmake.in > $(DESTDIR)$(CMAKEDIR)/medvolConfigVersion.cmake
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/medvol.pc $(DESTDIR)$(CMAKEDIR)/medvolConfig*.cmake
uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/medvol.h $(DESTDIR)$(INCLUDEDIR)/medvol_cuda.h $(DESTDIR)$(LIBDIR)/pkgconfig/medvol.pc \
	      $(DESTDIR)$(CMAKEDIR)/medvolConfig.cmake $(DESTDIR)$(CMAKEDIR)/medvolConfigVersion.cmake
	rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null || true
# install into a temporary PREFIX, build tests/install/consumer.c against the
# installed copy with pkg-config (C and C++) and CMake, run it, uninstall
# (make test's CMake build is Debug, -O0; make test-extended's Release, -O3)
INSTALL_BUILD_TYPE ?= Release
test-install:
	@MAKE="$(MAKE)" CC="$(CC)" CXX="$(CXX)" MEDVOL_INSTALL_BUILD_TYPE="$(INSTALL_BUILD_TYPE)" tests/install/test_install.sh
test-install-release:
	@$(MAKE) --no-print-directory test-install INSTALL_BUILD_TYPE=Release

# a gzip stream whose output passes 4 GiB (ISIZE wraps): slow, not in make test
$(BUILD)/test_large: tests/test_large.c medvol.h | $(BUILD)
	$(CC) $(CFLAGS) $(WFLAGS) $(XFLAGS) $(TOOLDEF) -o $@ $< $(LDLIBS)
test-large: $(BUILD)/test_large
	$(BUILD)/test_large

test-tools: $(EXAMPLES)
	tests/test_tools.sh

# random cases of the filters, resampling, morphology, labels, the EDT,
# percentiles, histograms and voxel math against scipy.ndimage and numpy
# (tests/py/diff_scipy.py: axes of length 1, every mode, odd parameters,
# NaN / inf / -0 / subnormal data); DIFF_CASES per family, DIFF_SEED to
# draw others
DIFF_CASES ?= 120
DIFF_SEED ?= 20261125
# the drivers: each is medvol's side of one harness (tests/diff_*.c)
DIFF_DRIVERS := $(addprefix $(BUILD)/diff_,scipy nibabel numpy sitk bart)
$(DIFF_DRIVERS): $(BUILD)/diff_%: tests/diff_%.c tests/diff_io.h medvol.h $(LIBMEDVOL) | $(BUILD)
	$(CC) $(EXFLAGS) -o $@ $< $(LIBMEDVOL) $(LDLIBS)
test-diff-scipy: $(BUILD)/diff_scipy
	@if /usr/bin/python3 -c 'import numpy, scipy' 2>/dev/null; then \
	  /usr/bin/python3 tests/py/diff_scipy.py $(BUILD)/diff_scipy $(DIFF_CASES) $(DIFF_SEED); \
	else echo "SKIPPED test-diff-scipy: needs /usr/bin/python3 with numpy and scipy"; fi

# random NIfTI-1/2 and Analyze files written through nibabel's own header
# (every dtype, byte order, q/s-forms, scaling, extensions, pairs, .gz) read
# by medvol under random load options, and medvol's files read by nibabel
# (tests/py/diff_nibabel.py: affines, orientation codes, fields, data bit
# for bit, refusals); DIFF_NIB_CASES per direction (200: ~3 s). The same
# driver against nibabel's FreeSurfer MGH (.mgh/.mgz) reader and writer
# (tests/py/diff_mgh.py: load options, footers, gzip layouts, geometry
# bytes of rewrites, refusals); DIFF_MGH_CASES per family (150: ~2 s)
DIFF_NIB_CASES ?= 200
DIFF_MGH_CASES ?= 150
test-diff-nibabel: $(BUILD)/diff_nibabel
	@if /usr/bin/python3 -c 'import numpy, nibabel' 2>/dev/null; then \
	  /usr/bin/python3 tests/py/diff_nibabel.py $(BUILD)/diff_nibabel $(DIFF_NIB_CASES) $(DIFF_SEED) && \
	  /usr/bin/python3 tests/py/diff_mgh.py $(BUILD)/diff_nibabel $(DIFF_MGH_CASES) $(DIFF_SEED); \
	else echo "SKIPPED test-diff-nibabel: needs /usr/bin/python3 with numpy and nibabel"; fi

# random FFTs of every form (c2c, r2c, c2r, fftc; plans, measured plans,
# in place, threads) against numpy.fft, and flips, permutations,
# reorientations, crop/pad and spacing resamples against nibabel's
# orientation code (tests/py/diff_numpy.py); DIFF_NUMPY_CASES per family
# (60: ~3 s)
DIFF_NUMPY_CASES ?= 60
test-diff-numpy: $(BUILD)/diff_numpy
	@if /usr/bin/python3 -c 'import numpy, nibabel' 2>/dev/null; then \
	  /usr/bin/python3 tests/py/diff_numpy.py $(BUILD)/diff_numpy $(DIFF_NUMPY_CASES) $(DIFF_SEED); \
	else echo "SKIPPED test-diff-numpy: needs /usr/bin/python3 with numpy and nibabel"; fi

# random .tfm files, affine and field warps, field files, composition,
# inversion and Jacobians against SimpleITK doing the same
# (tests/py/diff_sitk.py); DIFF_SITK_CASES per family (25: ~2 s)
DIFF_SITK_CASES ?= 25
# ITK's own .mha/.mhd files (Debian's insighttoolkit5-examples, fetched once
# with apt-get download and unpacked here; skipped when that fails) read by
# medvol and SimpleITK alike (tests/py/check_itk_metaimage.py); 3D Slicer's
# .seg.nrrd files (slicerio's test data, PyPI) through medvol, their segment
# key/value pairs read by SimpleITK and slicerio (tests/py/check_slicer_seg.py)
ITK_EXAMPLES := $(BUILD)/itk-examples
test-diff-sitk: $(BUILD)/diff_sitk
	@if /usr/bin/python3 -c 'import numpy, nibabel, SimpleITK' 2>/dev/null; then \
	  /usr/bin/python3 tests/py/diff_sitk.py $(BUILD)/diff_sitk $(DIFF_SITK_CASES) $(DIFF_SEED) && \
	  if [ -f $(ITK_EXAMPLES)/.ok ] || (rm -rf $(ITK_EXAMPLES) && mkdir -p $(ITK_EXAMPLES) && cd $(ITK_EXAMPLES) && \
	      apt-get download insighttoolkit5-examples >/dev/null 2>&1 && dpkg -x insighttoolkit5-examples_*.deb . && touch .ok); then \
	    { /usr/bin/python3 tests/py/check_itk_metaimage.py $(BUILD)/diff_sitk $(ITK_EXAMPLES) > $(BUILD)/itk-metaimage.log \
	      || { cat $(BUILD)/itk-metaimage.log; false; }; } && tail -1 $(BUILD)/itk-metaimage.log; \
	  else echo "SKIPPED ITK's MetaImage examples: apt-get download insighttoolkit5-examples failed"; fi && \
	  if /usr/bin/python3 -c 'import slicerio' 2>/dev/null; then \
	    { /usr/bin/python3 tests/py/check_slicer_seg.py $(BUILD)/diff_sitk > $(BUILD)/slicer-seg.log \
	      || { cat $(BUILD)/slicer-seg.log; false; }; } && tail -1 $(BUILD)/slicer-seg.log; \
	  else echo "SKIPPED 3D Slicer's .seg.nrrd files: needs slicerio (pip)"; fi; \
	else echo "SKIPPED test-diff-sitk: needs /usr/bin/python3 with numpy, nibabel and SimpleITK"; fi

# diffusion gradient tables (tests/py/diff_dwi.py): random DWI NRRD files
# (NA-MIC keys, measurement frames, RAS/LPS/LAS, NEX) converted by mvtool to
# NIfTI + FSL bval/bvec and back; teem's tend (the NRRD keys) and MRtrix3's
# dwi2tensor (FSL's files) must fit the same world tensor (~2 s)
DIFF_DWI_CASES ?= 24
test-diff-dwi: $(BUILD)/mvtool
	@if command -v teem-tend >/dev/null && command -v dwi2tensor >/dev/null && \
	    /usr/bin/python3 -c 'import numpy, nibabel, nrrd' 2>/dev/null; then \
	  /usr/bin/python3 tests/py/diff_dwi.py $(BUILD)/mvtool $(DIFF_DWI_CASES) $(DIFF_SEED); \
	else echo "SKIPPED test-diff-dwi: needs teem-tend (apt-get install teem-apps), dwi2tensor (mrtrix3) and /usr/bin/python3 with numpy, nibabel and pynrrd"; fi

# random .cfl files, trajectories, centred FFTs, RSS, NUFFTs, ESPIRiT maps
# and CG-SENSE against BART itself (tests/py/diff_bart.py; mvtool run with
# BART's own argv); DIFF_BART_CASES per family (12: ~3.5 s)
DIFF_BART_CASES ?= 12
test-diff-bart: $(BUILD)/diff_bart $(BUILD)/mvtool
	@if command -v bart >/dev/null && /usr/bin/python3 -c 'import numpy' 2>/dev/null; then \
	  /usr/bin/python3 tests/py/diff_bart.py $(BUILD)/diff_bart $(BUILD)/mvtool $(DIFF_BART_CASES) $(DIFF_SEED); \
	else echo "SKIPPED test-diff-bart: needs bart and /usr/bin/python3 with numpy"; fi

# elastix TransformParameters files (every kind, B-splines, chains) read by
# mvtool against transformix itself, medvol's files applied by transformix,
# and files from real elastix runs (tests/py/diff_elastix.py);
# DIFF_ELASTIX_CASES per family (apt-get install elastix)
DIFF_ELASTIX_CASES ?= 12
test-diff-elastix: $(BUILD)/mvtool
	@if command -v transformix >/dev/null && /usr/bin/python3 -c 'import numpy, nibabel' 2>/dev/null; then \
	  /usr/bin/python3 tests/py/diff_elastix.py $(BUILD)/mvtool $(DIFF_ELASTIX_CASES) $(DIFF_SEED); \
	else echo "SKIPPED test-diff-elastix: needs transformix (apt-get install elastix) and /usr/bin/python3 with numpy and nibabel"; fi

# the whole suite: every configuration the header promises. The configurations
# are independent (own binaries, per-process temp dirs), so they run as
# parallel jobs, one per core (TEST_JOBS), each job's output kept together:
# on 2 cores that halves the wall time (~20 instead of ~40 minutes).
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# The suites share their Python references through MEDVOL_TEST_PYCACHE
# (tests/test_main.c says how a result is keyed); the folder lives for one
# make test, so a changed numpy or scipy is never answered from an old run.
# Its fuzz targets only replay the corpora: built at -O0 (FUZZ_OPT, above)
test:
	@rm -rf $(BUILD)/pycache
	@MEDVOL_TEST_PYCACHE=$(BUILD)/pycache $(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target FUZZ_OPT=-O0 \
	  INSTALL_BUILD_TYPE=Debug test-all
test-all: test-quick test-tools test-asan test-tsan test-nosimd test-cxx test-neon test-configs \
          test-install test-symbols test-fuzz-replay test-cuda test-cuda-symbols test-cuda-emu test-diff-scipy test-diff-nibabel \
          test-diff-numpy test-diff-sitk test-diff-bart test-diff-elastix test-diff-dwi
	@echo "make test: all configurations passed"
# make test-extended: what make test leaves out to stay inside CI's 30
# minutes on a 2-core machine (README, "Tests"), each a repetition of a
# check make test makes in another form: the clang -O2 -march=native suite
# (clang's code at -O1 runs in the ASan+UBSan and TSan suites), the C
# no-threads suite (make test's no-threads build is the C++ suite), the
# NEON suite's thread-count and accuracy tests, the CUDA emulator under
# ASan+UBSan and proton_pdd --gpu on it, test-install's CMake Release (-O3)
# build, gcc's front end on the configurations it does not compile
# (clang's and g++'s check them in make test), and the FFTW suite (the FFT
# tests with mv_fft_* on fftwf: an optional build, 70 CPU-seconds; its
# configuration compiles in make test's clang and g++ front-end checks). Run it before a
# release and in a session that changes medvol_cuda.h or the SIMD kernels.
test-configs-gcc-front:
	@for cfg in $(CONFIGS_FRONT); do \
	  $(CC) -std=c99 -fsyntax-only -Wall -Wextra -Wpedantic -Werror $$cfg tests/compile/config.c || { echo "FAIL: $(CC) $$cfg"; exit 1; }; \
	done
	@echo "configs (gcc's front end): ok"
test-extended:
	@MEDVOL_TEST_PYCACHE=$(BUILD)/pycache $(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target \
	  test-clang test-nothreads test-neon-full test-cuda-emu-san test-cuda-emu-pdd test-install-release \
	  test-configs-gcc-front test-fftw
	@echo "make test-extended: all configurations passed"

clean:
	rm -rf $(BUILD)
