! jacobi.f90: examples/jacobi.c in Fortran, through the dsm module. 2-D 5-point
! Jacobi relaxation on an (n+2) x (n+2) grid in the arena (fixed boundary: top
! edge 1.0, the rest 0.0), interior rows split across nodes, a barrier between
! sweeps. Node 0 repeats the computation serially in private memory and compares
! bit for bit; every node exits 0 only if the result matches.
! A row is grid(:, i): Fortran is column-major, so each node's rows are one
! contiguous block of the arena, as in the C version.
! Run: dsmrun -n 4 ./jacobi_fortran [n=256] [sweeps=100]
program jacobi
  use, intrinsic :: iso_c_binding, only: c_double, c_int, c_size_t, c_ptr, c_f_pointer, &
                                          c_associated, c_sizeof
  use, intrinsic :: iso_fortran_env, only: error_unit, int64
  use dsm
  implicit none

  real(c_double), pointer, contiguous :: u(:, :), v(:, :), t(:, :)
  integer(c_int), pointer :: verdict
  type(c_ptr) :: u_mem, v_mem, verdict_mem
  integer :: n, sweeps, node, nnodes, first, last, s, ierr
  integer(c_size_t) :: grid_bytes
  integer(int64) :: start, finish, rate
  real(c_double) :: heat
  logical :: ok

  n = argument(1, 256)
  sweeps = argument(2, 100)
  call dsm_init(ierr)
  call check('dsm_init', ierr)
  node = dsm_node_id()
  nnodes = dsm_num_nodes()
  grid_bytes = int(n + 2, c_size_t)**2 * c_sizeof(1.0_c_double)
  u_mem = arena(grid_bytes)
  v_mem = arena(grid_bytes)
  verdict_mem = arena(c_sizeof(1_c_int))
  call map_grid(u_mem, n, u)
  call map_grid(v_mem, n, v)
  call c_f_pointer(verdict_mem, verdict)
  ! The interior rows 1..n this node owns: first..last (as examples/example_util.h).
  first = int(int(n, int64) * node / nnodes) + 1
  last = int(int(n, int64) * (node + 1) / nnodes)
  if (node == 0) then
    u(:, 0) = 1.0_c_double
    v(:, 0) = 1.0_c_double
  end if
  call dsm_barrier(ierr)
  call check('dsm_barrier', ierr)

  call system_clock(start, rate)
  do s = 1, sweeps
    call sweep(u, v, first, last)
    call dsm_barrier(ierr)
    call check('dsm_barrier', ierr)
    t => u
    u => v
    v => t
  end do
  call system_clock(finish)

  if (node == 0) then
    verdict = -1
    if (matches_serial(u, n, sweeps)) verdict = 1
  end if
  call dsm_barrier(ierr)
  call check('dsm_barrier', ierr)
  heat = sum(u(1:n, first:last)) ! the heat in this node's rows
  ok = verdict == 1
  if (ok) then
    write (*, '(a, i0, a, i0, a, i0, a, i0, a, i0, a, i0, a, i0, a, i0, a, es11.5, a)') &
      'jacobi.f90 node ', node, '/', nnodes, ': ', n, 'x', n, ', ', sweeps, ' sweeps, rows ', &
      first, '..', last, ', ', (finish - start) * 1000 / rate, ' ms, heat ', heat, &
      ': verified against the serial run'
  else
    write (*, '(a, i0, a, i0, a)') 'jacobi.f90 node ', node, '/', nnodes, ': WRONG'
  end if
  call dsm_free(verdict_mem)
  call dsm_free(v_mem)
  call dsm_free(u_mem)
  call dsm_finalize(ierr)
  call check('dsm_finalize', ierr)
  if (.not. ok) stop 1

contains

  ! Stop the example with the failing call and dsm's reason.
  subroutine check(what, status)
    character(len=*), intent(in) :: what
    integer, intent(in) :: status

    if (status /= DSM_OK) then
      write (error_unit, '(a)') 'jacobi.f90: ' // what // ' failed: ' // dsm_strerror(status)
      stop 2
    end if
  end subroutine check

  ! dsm_alloc or stop with the reason.
  function arena(nbytes) result(ptr)
    integer(c_size_t), intent(in) :: nbytes
    type(c_ptr) :: ptr

    ptr = dsm_alloc(nbytes)
    if (.not. c_associated(ptr)) then
      write (error_unit, '(a, i0, a)') 'jacobi.f90: dsm_alloc(', nbytes, ') failed: ' // &
        dsm_strerror(dsm_last_error())
      stop 2
    end if
  end function arena

  ! The arena memory at mem as grid(0:n+1, 0:n+1).
  subroutine map_grid(mem, n, grid)
    type(c_ptr), intent(in) :: mem
    integer, intent(in) :: n
    real(c_double), pointer, contiguous, intent(out) :: grid(:, :)
    real(c_double), pointer, contiguous :: flat(:, :)

    call c_f_pointer(mem, flat, [n + 2, n + 2])
    grid(0:, 0:) => flat
  end subroutine map_grid

  ! Command-line argument index as a positive integer, or fallback when absent.
  integer function argument(index, fallback)
    integer, intent(in) :: index, fallback
    character(len=32) :: text
    integer :: status

    argument = fallback
    if (command_argument_count() < index) return
    call get_command_argument(index, text)
    read (text, *, iostat=status) argument
    if (status /= 0 .or. argument <= 0) then
      write (error_unit, '(a, i0, a)') 'jacobi.f90: argument ', index, &
        ' must be a positive integer, got ''' // trim(text) // ''''
      stop 2
    end if
  end function argument

  ! One sweep of rows first..last (interior rows are 1..n) from src into dst.
  subroutine sweep(src, dst, first, last)
    real(c_double), contiguous, intent(in) :: src(0:, 0:)
    real(c_double), contiguous, intent(inout) :: dst(0:, 0:)
    integer, intent(in) :: first, last
    integer :: i, j, width

    width = size(src, 1)
    do i = first, last
      do j = 1, width - 2
        dst(j, i) = 0.25_c_double * (src(j, i - 1) + src(j, i + 1) + src(j - 1, i) + src(j + 1, i))
      end do
    end do
  end subroutine sweep

  ! Node 0: the serial computation in private memory, compared with the shared result.
  logical function matches_serial(shared, n, sweeps)
    real(c_double), contiguous, intent(in) :: shared(0:, 0:)
    integer, intent(in) :: n, sweeps
    real(c_double), allocatable :: a(:, :), b(:, :), swap(:, :)
    integer :: s

    allocate (a(0:n + 1, 0:n + 1), b(0:n + 1, 0:n + 1))
    a = 0.0_c_double
    a(:, 0) = 1.0_c_double
    b = a
    do s = 1, sweeps
      call sweep(a, b, 1, n)
      call move_alloc(a, swap)
      call move_alloc(b, a)
      call move_alloc(swap, b)
    end do
    ! Bit for bit, as memcmp in jacobi.c (the same arithmetic in the same order).
    matches_serial = all(transfer(a, 1_int64, size(a)) == transfer(shared, 1_int64, size(shared)))
  end function matches_serial

end program jacobi
