! test_bindings: every procedure of the Fortran module dsm, run by every node of a
! job (dsmrun -n N). Each check that holds on this node counts as passed; the node
! prints its count and exits non-zero if any failed.
! The values checked prove the C calls got their arguments: the config's arena
! size decides which allocation fits, the lock keeps an exact count, the flag
! passes a turn from node to node.
program test_bindings
  use, intrinsic :: iso_c_binding, only: c_int64_t, c_size_t, c_char, c_null_char, c_ptr, &
                                          c_loc, c_f_pointer, c_associated, c_sizeof
  use dsm
  implicit none

  integer, parameter :: rounds = 50
  integer(c_int64_t), parameter :: page = 4096
  character(kind=c_char, len=6), target :: bogus = c_char_'bogus' // c_null_char
  type(dsm_config_t) :: config
  type(dsm_stats_t) :: stats
  type(c_ptr) :: ids_mem, words_mem, big
  integer(c_int64_t), pointer :: ids(:)
  integer(c_int64_t), pointer, volatile :: words(:) ! 1 the locked count, 2 the turn
  integer(DSM_LOCK_KIND) :: lock
  integer :: ierr, me, nnodes, i, passed, failed

  passed = 0
  failed = 0

  ! Before dsm_init.
  call expect('node id -1 before init', dsm_node_id() == -1)
  call expect('0 nodes before init', dsm_num_nodes() == 0)
  call dsm_barrier(ierr)
  call expect('barrier before init: DSM_ERR_NOT_INITIALIZED', ierr == DSM_ERR_NOT_INITIALIZED)
  call expect('dsm_strerror(DSM_ERR_NO_SPACE)', &
              dsm_strerror(DSM_ERR_NO_SPACE) == 'arena has no room')

  ! A config the runtime refuses, then the one it runs with.
  config%field_mask = DSM_CONFIG_FIELD_TRANSPORT
  config%transport = c_loc(bogus)
  call dsm_init(ierr, config)
  call expect('init with transport "bogus": DSM_ERR_CONFIG', ierr == DSM_ERR_CONFIG)
  config = dsm_config_t(field_mask=DSM_CONFIG_FIELD_ARENA_SIZE + DSM_CONFIG_FIELD_PLACEMENT, &
                        arena_size=64 * 1024 * 1024_c_int64_t, &
                        placement=DSM_PLACEMENT_BLOCKED)
  call dsm_init(ierr, config)
  if (ierr /= DSM_OK) then
    print '(a)', 'test_bindings: dsm_init failed: ' // dsm_strerror(ierr)
    error stop 2
  end if
  me = dsm_node_id()
  nnodes = dsm_num_nodes()
  call expect('node id in 0..nodes-1', me >= 0 .and. me < nnodes)

  ! Every node writes its slot; after the barrier every node sees them all.
  ids_mem = dsm_alloc(int(nnodes, c_size_t) * c_sizeof(1_c_int64_t))
  call expect('dsm_alloc', c_associated(ids_mem))
  call c_f_pointer(ids_mem, ids, [nnodes])
  ids(me + 1) = me + 100
  call dsm_barrier(ierr)
  call expect('barrier', ierr == DSM_OK)
  call expect('every node''s slot', all(ids == [(i + 100, i = 0, nnodes - 1)]))

  ! The config's 64 MiB arena: 128 MiB does not fit (it would in the default 1 GiB).
  big = dsm_alloc(128 * 1024 * 1024_c_size_t)
  call expect('alloc beyond the arena: c_null_ptr', .not. c_associated(big))
  call expect('alloc beyond the arena: DSM_ERR_NO_SPACE', dsm_last_error() == DSM_ERR_NO_SPACE)

  ! A lock-protected count, exact.
  words_mem = dsm_alloc(int(page, c_size_t))
  call expect('dsm_alloc after a refusal', c_associated(words_mem))
  call c_f_pointer(words_mem, words, [2])
  call dsm_lock_create(lock, ierr)
  call expect('dsm_lock_create', ierr == DSM_OK)
  do i = 1, rounds
    call dsm_lock_acquire(lock)
    words(1) = words(1) + 1
    call dsm_lock_release(lock)
  end do
  call dsm_barrier()
  call expect('locked count', words(1) == int(rounds, c_int64_t) * nnodes)

  ! The turn goes round: node k waits for turn k, then passes it on.
  call dsm_wait_until_u64(words(2), DSM_CMP_EQ, int(me, c_int64_t), ierr)
  call expect('wait_until EQ my turn', ierr == DSM_OK .and. words(2) == me)
  words(2) = me + 1
  call dsm_wait_until_u64(words(2), DSM_CMP_GE, int(nnodes, c_int64_t), ierr)
  call expect('wait_until GE every turn', ierr == DSM_OK .and. words(2) == nnodes)
  call dsm_wait_until_u64(words(2), DSM_CMP_LT, int(nnodes + 1, c_int64_t), ierr)
  call expect('wait_until LT (already true)', ierr == DSM_OK)
  call dsm_wait_until_u64(words(2), 99, 0_c_int64_t, ierr)
  call expect('wait_until unknown cmp: DSM_ERR_INVALID_PARAM', ierr == DSM_ERR_INVALID_PARAM)

  call dsm_stats_get(stats, ierr)
  call expect('stats: the barriers and lock acquires counted', ierr == DSM_OK .and. &
              stats%barriers >= 2 .and. stats%lock_acquires >= rounds)

  ! An image into the test's working directory (build tree): written, committed.
  call expect('not restarted', .not. dsm_restarted())
  call dsm_checkpoint('fortran_bindings.image', ierr)
  call expect('dsm_checkpoint', ierr == DSM_OK)
  call dsm_checkpoint_wait(ierr)
  call expect('dsm_checkpoint_wait', ierr == DSM_OK)

  call dsm_barrier()
  call dsm_free(words_mem)
  call dsm_free(ids_mem)
  call dsm_finalize(ierr)
  call expect('dsm_finalize', ierr == DSM_OK)
  call expect('node id -1 after finalize', dsm_node_id() == -1)

  print '(a, i0, a, i0, a, i0, a)', 'test_bindings node ', me, ': ', passed, ' passed, ', &
    failed, ' failed'
  if (failed /= 0) error stop 1

contains

  subroutine expect(what, holds)
    character(len=*), intent(in) :: what
    logical, intent(in) :: holds

    if (holds) then
      passed = passed + 1
    else
      failed = failed + 1
      print '(a)', 'FAIL: ' // what
    end if
  end subroutine expect

end program test_bindings
