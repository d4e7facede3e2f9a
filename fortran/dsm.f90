! dsm.f90 - the Fortran bindings of dsm: `use dsm`.
!
! Every function of include/dsm.h, through iso_c_binding. The raw C functions are
! bound in one private interface block (c_dsm_*); the public API is the module
! procedures below, in the style of MPI's: subroutines end with an optional
! integer `ierr` that receives the dsm status (DSM_OK or a DSM_ERR_* code).
! When ierr is omitted a failure is fatal: the reason goes to standard error and
! the program stops (as MPI's default error handler does), so no error passes
! unseen.
!
! Arena memory is mapped with c_f_pointer:
!     type(c_ptr) :: p
!     real(c_double), pointer :: a(:,:)
!     p = dsm_alloc(int(n, c_size_t) * int(m, c_size_t) * 8_c_size_t)
!     call c_f_pointer(p, a, [n, m])
! A variable that another node changes and this node polls (a flag) must be read
! through dsm_wait_until_u64 or be declared volatile, or the compiler may keep
! it in a register.
module dsm
  use, intrinsic :: iso_c_binding, only: c_int, c_int64_t, c_size_t, c_double, c_char, c_null_char, &
                                          c_ptr, c_null_ptr, c_loc, c_f_pointer
  use, intrinsic :: iso_fortran_env, only: error_unit
  implicit none
  private

  ! dsm_status_t: DSM_OK is zero, failures are negative (dsm_strerror names each).
  integer, parameter, public :: DSM_INPROGRESS          = 1
  integer, parameter, public :: DSM_OK                  = 0
  integer, parameter, public :: DSM_ERR_INVALID_PARAM   = -1
  integer, parameter, public :: DSM_ERR_NO_MEMORY       = -2
  integer, parameter, public :: DSM_ERR_UNSUPPORTED     = -3
  integer, parameter, public :: DSM_ERR_PERMISSION      = -4
  integer, parameter, public :: DSM_ERR_IO              = -5
  integer, parameter, public :: DSM_ERR_EXISTS          = -6
  integer, parameter, public :: DSM_ERR_AGAIN           = -7
  integer, parameter, public :: DSM_ERR_NO_ENTRY        = -8
  integer, parameter, public :: DSM_ERR_TIMEOUT         = -9
  integer, parameter, public :: DSM_ERR_TRANSPORT       = -10
  integer, parameter, public :: DSM_ERR_PEER_LOST       = -11
  integer, parameter, public :: DSM_ERR_AUTH            = -12
  integer, parameter, public :: DSM_ERR_MALFORMED       = -13
  integer, parameter, public :: DSM_ERR_NO_SPACE        = -14
  integer, parameter, public :: DSM_ERR_ADDRESS_IN_USE  = -15
  integer, parameter, public :: DSM_ERR_CONFIG          = -16
  integer, parameter, public :: DSM_ERR_NOT_INITIALIZED = -17
  integer, parameter, public :: DSM_ERR_STATE           = -18
  integer, parameter, public :: DSM_ERR_BOOTSTRAP       = -19
  integer, parameter, public :: DSM_ERR_CANCELED        = -20

  ! dsm_cmp_t: how dsm_wait_until_u64 compares the word with the value.
  integer, parameter, public :: DSM_CMP_EQ = 0
  integer, parameter, public :: DSM_CMP_NE = 1
  integer, parameter, public :: DSM_CMP_GT = 2
  integer, parameter, public :: DSM_CMP_GE = 3
  integer, parameter, public :: DSM_CMP_LT = 4
  integer, parameter, public :: DSM_CMP_LE = 5

  ! dsm_placement_t, for dsm_config_t%placement.
  integer(c_int), parameter, public :: DSM_PLACEMENT_CYCLIC  = 0
  integer(c_int), parameter, public :: DSM_PLACEMENT_BLOCKED = 1

  ! The DSM_CONFIG_FIELD_* bits of dsm_config_t%field_mask (add them to combine).
  integer(c_int64_t), parameter, public :: DSM_CONFIG_FIELD_ARENA_SIZE    = 1_c_int64_t
  integer(c_int64_t), parameter, public :: DSM_CONFIG_FIELD_ARENA_ADDRESS = 2_c_int64_t
  integer(c_int64_t), parameter, public :: DSM_CONFIG_FIELD_PLACEMENT     = 4_c_int64_t
  integer(c_int64_t), parameter, public :: DSM_CONFIG_FIELD_TRANSPORT     = 8_c_int64_t
  integer(c_int64_t), parameter, public :: DSM_CONFIG_FIELD_SPIN_US       = 16_c_int64_t
  integer(c_int64_t), parameter, public :: DSM_CONFIG_FIELD_LOG_LEVEL     = 32_c_int64_t
  integer(c_int64_t), parameter, public :: DSM_CONFIG_FIELD_STATS         = 64_c_int64_t
  integer(c_int64_t), parameter, public :: DSM_CONFIG_FIELD_READAHEAD     = 128_c_int64_t
  integer(c_int64_t), parameter, public :: DSM_CONFIG_FIELD_SERVICE_NICE  = 256_c_int64_t
  integer(c_int64_t), parameter, public :: DSM_CONFIG_FIELD_RESTART_DIR   = 512_c_int64_t
  integer(c_int64_t), parameter, public :: DSM_CONFIG_FIELD_WRITE_HOLD_US = 1024_c_int64_t

  ! The kind of a lock handle (dsm_lock_t, the same value on every node).
  integer, parameter, public :: DSM_LOCK_KIND = c_int64_t

  ! dsm_config_t, field for field (docs/config.md). uint64_t and unsigned fields are
  ! signed integers of the same size here. transport is the c_loc of a
  ! NUL-terminated character(kind=c_char) variable, read only during dsm_init:
  !     character(kind=c_char, len=4), target :: tcp = c_char_"tcp" // c_null_char
  !     config%transport = c_loc(tcp)
  type, bind(C), public :: dsm_config_t
    integer(c_int64_t) :: field_mask = 0
    integer(c_int64_t) :: arena_size = 0
    integer(c_int64_t) :: arena_address = 0
    integer(c_int)     :: placement = DSM_PLACEMENT_CYCLIC
    type(c_ptr)        :: transport = c_null_ptr
    integer(c_int)     :: spin_us = 0
    integer(c_int)     :: log_level = 0
    integer(c_int)     :: stats = 0
    integer(c_int)     :: readahead = 0
    integer(c_int)     :: service_nice = 0
    type(c_ptr)        :: restart_dir = c_null_ptr ! like transport; DSM_RESTART
    integer(c_int)     :: write_hold_us = 0
  end type dsm_config_t

  ! dsm_stats_t: this node's counters since dsm_init (dsm_stats_get).
  type, bind(C), public :: dsm_stats_t
    integer(c_int64_t) :: read_misses
    integer(c_int64_t) :: write_misses
    integer(c_int64_t) :: upgrades
    integer(c_int64_t) :: invalidations_sent
    integer(c_int64_t) :: invalidations_received
    integer(c_int64_t) :: bytes_fetched
    integer(c_int64_t) :: bytes_written_back
    integer(c_int64_t) :: messages_sent
    integer(c_int64_t) :: messages_received
    integer(c_int64_t) :: malformed_messages
    integer(c_int64_t) :: lock_acquires
    integer(c_int64_t) :: barriers
    integer(c_int64_t) :: faults_resolved
    real(c_double)     :: fault_latency_p50_us
    real(c_double)     :: fault_latency_p99_us
    integer(c_int64_t) :: pages_read_ahead
    integer(c_int64_t) :: pages_upgraded_ahead
    integer(c_int64_t) :: message_pages_sent
    integer(c_int64_t) :: messages_held
    integer(c_int64_t) :: messages_held_us
    integer(c_int64_t) :: pages_zero_filled
    integer(c_int64_t) :: pages_written_ahead
    integer(c_int64_t) :: bytes_shared
  end type dsm_stats_t

  public :: dsm_init, dsm_finalize, dsm_node_id, dsm_num_nodes
  public :: dsm_alloc, dsm_free, dsm_barrier
  public :: dsm_lock_create, dsm_lock_acquire, dsm_lock_release
  public :: dsm_wait_until_u64, dsm_last_error, dsm_stats_get, dsm_strerror
  public :: dsm_checkpoint, dsm_checkpoint_wait, dsm_restarted

  ! The C functions of include/dsm.h. Enums (dsm_status_t, dsm_cmp_t) are int.
  interface
    function c_dsm_strerror(status) bind(C, name="dsm_strerror")
      import :: c_int, c_ptr
      integer(c_int), value :: status
      type(c_ptr) :: c_dsm_strerror
    end function c_dsm_strerror

    function c_dsm_init(config) bind(C, name="dsm_init")
      import :: c_int, c_ptr
      type(c_ptr), value :: config
      integer(c_int) :: c_dsm_init
    end function c_dsm_init

    function c_dsm_finalize() bind(C, name="dsm_finalize")
      import :: c_int
      integer(c_int) :: c_dsm_finalize
    end function c_dsm_finalize

    function c_dsm_node_id() bind(C, name="dsm_node_id")
      import :: c_int
      integer(c_int) :: c_dsm_node_id
    end function c_dsm_node_id

    function c_dsm_num_nodes() bind(C, name="dsm_num_nodes")
      import :: c_int
      integer(c_int) :: c_dsm_num_nodes
    end function c_dsm_num_nodes

    function c_dsm_alloc(size) bind(C, name="dsm_alloc")
      import :: c_size_t, c_ptr
      integer(c_size_t), value :: size
      type(c_ptr) :: c_dsm_alloc
    end function c_dsm_alloc

    subroutine c_dsm_free(ptr) bind(C, name="dsm_free")
      import :: c_ptr
      type(c_ptr), value :: ptr
    end subroutine c_dsm_free

    function c_dsm_barrier() bind(C, name="dsm_barrier")
      import :: c_int
      integer(c_int) :: c_dsm_barrier
    end function c_dsm_barrier

    function c_dsm_lock_create(lock_p) bind(C, name="dsm_lock_create")
      import :: c_int, c_int64_t
      integer(c_int64_t), intent(out) :: lock_p
      integer(c_int) :: c_dsm_lock_create
    end function c_dsm_lock_create

    function c_dsm_lock_acquire(lock) bind(C, name="dsm_lock_acquire")
      import :: c_int, c_int64_t
      integer(c_int64_t), value :: lock
      integer(c_int) :: c_dsm_lock_acquire
    end function c_dsm_lock_acquire

    function c_dsm_lock_release(lock) bind(C, name="dsm_lock_release")
      import :: c_int, c_int64_t
      integer(c_int64_t), value :: lock
      integer(c_int) :: c_dsm_lock_release
    end function c_dsm_lock_release

    function c_dsm_wait_until_u64(addr, cmp, value) bind(C, name="dsm_wait_until_u64")
      import :: c_int, c_int64_t, c_ptr
      type(c_ptr), value :: addr
      integer(c_int), value :: cmp
      integer(c_int64_t), value :: value
      integer(c_int) :: c_dsm_wait_until_u64
    end function c_dsm_wait_until_u64

    function c_dsm_last_error() bind(C, name="dsm_last_error")
      import :: c_int
      integer(c_int) :: c_dsm_last_error
    end function c_dsm_last_error

    function c_dsm_stats_get(stats_p) bind(C, name="dsm_stats_get")
      import :: c_int, dsm_stats_t
      type(dsm_stats_t), intent(out) :: stats_p
      integer(c_int) :: c_dsm_stats_get
    end function c_dsm_stats_get

    function c_dsm_checkpoint(dir) bind(C, name="dsm_checkpoint")
      import :: c_int, c_char
      character(kind=c_char), intent(in) :: dir(*)
      integer(c_int) :: c_dsm_checkpoint
    end function c_dsm_checkpoint

    function c_dsm_checkpoint_wait() bind(C, name="dsm_checkpoint_wait")
      import :: c_int
      integer(c_int) :: c_dsm_checkpoint_wait
    end function c_dsm_checkpoint_wait

    function c_dsm_restarted() bind(C, name="dsm_restarted")
      import :: c_int
      integer(c_int) :: c_dsm_restarted
    end function c_dsm_restarted

    ! libc, to find the end of dsm_strerror's string.
    function c_strlen(s) bind(C, name="strlen")
      import :: c_size_t, c_ptr
      type(c_ptr), value :: s
      integer(c_size_t) :: c_strlen
    end function c_strlen
  end interface

contains

  ! The one-line description of a status, as a Fortran string.
  function dsm_strerror(status) result(text)
    integer, intent(in) :: status
    character(len=:), allocatable :: text
    type(c_ptr) :: c_text
    character(kind=c_char), pointer :: chars(:)
    integer :: i, n

    c_text = c_dsm_strerror(int(status, c_int))
    n = int(c_strlen(c_text))
    call c_f_pointer(c_text, chars, [n])
    allocate (character(len=n) :: text)
    do i = 1, n
      text(i:i) = chars(i)
    end do
  end function dsm_strerror

  ! Hands status to the caller's ierr, or stops the program on a failure when the
  ! caller passed none.
  subroutine dsm_result(call_name, status, ierr)
    character(len=*), intent(in) :: call_name
    integer(c_int), intent(in) :: status
    integer, intent(out), optional :: ierr

    if (present(ierr)) then
      ierr = int(status)
    else if (status /= DSM_OK) then
      write (error_unit, '(a)') 'dsm: ' // call_name // ' failed: ' // dsm_strerror(int(status))
      error stop 2
    end if
  end subroutine dsm_result

  ! Joins the job (collective). Without config every setting comes from the DSM_*
  ! environment; with it, the fields named in config%field_mask win over it.
  subroutine dsm_init(ierr, config)
    integer, intent(out), optional :: ierr
    type(dsm_config_t), intent(in), target, optional :: config
    type(c_ptr) :: c_config

    c_config = c_null_ptr
    if (present(config)) then
      c_config = c_loc(config)
    end if
    call dsm_result('dsm_init', c_dsm_init(c_config), ierr)
  end subroutine dsm_init

  subroutine dsm_finalize(ierr)
    integer, intent(out), optional :: ierr

    call dsm_result('dsm_finalize', c_dsm_finalize(), ierr)
  end subroutine dsm_finalize

  ! 0 .. dsm_num_nodes()-1; -1 before dsm_init.
  integer function dsm_node_id()
    dsm_node_id = int(c_dsm_node_id())
  end function dsm_node_id

  ! 0 before dsm_init.
  integer function dsm_num_nodes()
    dsm_num_nodes = int(c_dsm_num_nodes())
  end function dsm_num_nodes

  ! Collective: page-aligned, zero-filled arena memory at the same address on every
  ! node, or c_null_ptr (dsm_last_error() says why).
  function dsm_alloc(nbytes) result(ptr)
    integer(c_size_t), intent(in) :: nbytes
    type(c_ptr) :: ptr

    ptr = c_dsm_alloc(nbytes)
  end function dsm_alloc

  ! Collective.
  subroutine dsm_free(ptr)
    type(c_ptr), intent(in) :: ptr

    call c_dsm_free(ptr)
  end subroutine dsm_free

  ! Collective; orders every access before it against every access after it.
  subroutine dsm_barrier(ierr)
    integer, intent(out), optional :: ierr

    call dsm_result('dsm_barrier', c_dsm_barrier(), ierr)
  end subroutine dsm_barrier

  ! Collective: a consistent image of every allocation into the directory dir,
  ! written in the background (docs/checkpoint.md).
  subroutine dsm_checkpoint(dir, ierr)
    character(len=*), intent(in) :: dir
    integer, intent(out), optional :: ierr

    call dsm_result('dsm_checkpoint', c_dsm_checkpoint(trim(dir) // c_null_char), ierr)
  end subroutine dsm_checkpoint

  ! Collective: the last image is on disk and committed, or the error that stopped it.
  subroutine dsm_checkpoint_wait(ierr)
    integer, intent(out), optional :: ierr

    call dsm_result('dsm_checkpoint_wait', c_dsm_checkpoint_wait(), ierr)
  end subroutine dsm_checkpoint_wait

  ! True when this job started from an image (DSM_RESTART, dsmrun --restart).
  logical function dsm_restarted()
    dsm_restarted = c_dsm_restarted() /= 0
  end function dsm_restarted

  ! Collective: the same handle on every node.
  subroutine dsm_lock_create(lock, ierr)
    integer(DSM_LOCK_KIND), intent(out) :: lock
    integer, intent(out), optional :: ierr
    integer(c_int64_t) :: handle
    integer(c_int) :: status

    status = c_dsm_lock_create(handle)
    if (status == DSM_OK) then
      lock = handle
    end if
    call dsm_result('dsm_lock_create', status, ierr)
  end subroutine dsm_lock_create

  ! FIFO at the lock's home node.
  subroutine dsm_lock_acquire(lock, ierr)
    integer(DSM_LOCK_KIND), intent(in) :: lock
    integer, intent(out), optional :: ierr

    call dsm_result('dsm_lock_acquire', c_dsm_lock_acquire(lock), ierr)
  end subroutine dsm_lock_acquire

  subroutine dsm_lock_release(lock, ierr)
    integer(DSM_LOCK_KIND), intent(in) :: lock
    integer, intent(out), optional :: ierr

    call dsm_result('dsm_lock_release', c_dsm_lock_release(lock), ierr)
  end subroutine dsm_lock_release

  ! Returns once word (an 8-byte arena variable, e.g. flags(i) of an array mapped
  ! with c_f_pointer) compares to value as cmp (DSM_CMP_*) says: word <cmp> value.
  ! The comparison is unsigned, as in C: a negative value is above 2**63. word has
  ! no intent: other nodes change it while the call waits, so the caller must not
  ! keep an old value of it across the call.
  subroutine dsm_wait_until_u64(word, cmp, value, ierr)
    integer(c_int64_t), target :: word
    integer, intent(in) :: cmp
    integer(c_int64_t), intent(in) :: value
    integer, intent(out), optional :: ierr

    call dsm_result('dsm_wait_until_u64', &
                    c_dsm_wait_until_u64(c_loc(word), int(cmp, c_int), value), ierr)
  end subroutine dsm_wait_until_u64

  ! The status of this thread's last failed dsm call (after dsm_alloc gave c_null_ptr).
  integer function dsm_last_error()
    dsm_last_error = int(c_dsm_last_error())
  end function dsm_last_error

  subroutine dsm_stats_get(stats, ierr)
    type(dsm_stats_t), intent(out) :: stats
    integer, intent(out), optional :: ierr

    call dsm_result('dsm_stats_get', c_dsm_stats_get(stats), ierr)
  end subroutine dsm_stats_get

end module dsm
