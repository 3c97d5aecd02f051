%% The BEAM side of the Grove benchmark suite: the same workloads as
%% bench/grove_bench.c, written the way an Erlang programmer would.
%%
%% Run as: erl -noshell +S 2:2 +P 2097152 -pa DIR -run beam_bench main NAME
%% Prints one number (the figure) on stdout; a wrong result prints a
%% message on stderr and halts with status 1.
-module(beam_bench).
-export([main/1]).

-define(SPAWN_TOTAL, 1000000).
-define(SPAWN_BATCH, 10000).
-define(RING_SIZE, 1000).
-define(RING_HOPS, 1000000).
-define(PINGPONG_TRIPS, 1000000).
-define(SKYNET_SIZE, 1000000).
-define(SKYNET_DIV, 10).
-define(SKYNET_SUM, 499999500000).
-define(IDLE_PROCS, 100000).
-define(IDLE_SETTLE_MS, 1500).

main([Name]) ->
    Result = try run(list_to_atom(Name))
             catch Class:Reason:Stack -> {error, {Class, Reason, Stack}}
             end,
    case Result of
        {ok, Figure} ->
            io:format("~.1f~n", [float(Figure)]),
            halt(0);
        {error, What} ->
            io:format(standard_error, "beam_bench ~s: ~p~n", [Name, What]),
            halt(1)
    end;
main(_) ->
    io:format(standard_error, "usage: beam_bench NAME~n", []),
    halt(2).

run(spawn_exit) -> spawn_exit();
run(ring_hop) -> ring_hop();
run(pingpong) -> pingpong();
run(skynet) -> skynet();
run(idle_process_bytes) -> idle_process_bytes();
run(Other) -> {error, {unknown_workload, Other}}.

now_ns() -> erlang:monotonic_time(nanosecond).

%% spawn_exit: ns per process. Children are spawned in batches so the
%% number alive at once stays bounded, each with a monitor, and a batch is
%% done when every child's 'DOWN' has arrived: the child has exited, not
%% just started to. DOWN messages come from many exiting processes at
%% once, which is what off_heap message queues are for.
spawn_exit() ->
    process_flag(message_queue_data, off_heap),
    T0 = now_ns(),
    Done = spawn_batches(?SPAWN_TOTAL, 0),
    T1 = now_ns(),
    check(Done =:= ?SPAWN_TOTAL, {exited_normally, Done}),
    {ok, (T1 - T0) / ?SPAWN_TOTAL}.

spawn_batches(0, Done) ->
    Done;
spawn_batches(Left, Done) ->
    N = min(Left, ?SPAWN_BATCH),
    spawn_monitor_n(N),
    spawn_batches(Left - N, Done + collect_down(N, 0)).

spawn_monitor_n(0) -> ok;
spawn_monitor_n(N) -> spawn_monitor(fun() -> ok end), spawn_monitor_n(N - 1).

%% Counts the DOWNs whose reason is normal; any other reason leaves the
%% count short and fails the check.
collect_down(0, Count) ->
    Count;
collect_down(N, Count) ->
    receive
        {'DOWN', _Ref, process, _Pid, normal} ->
            collect_down(N - 1, Count + 1);
        {'DOWN', _Ref, process, _Pid, _Reason} ->
            collect_down(N - 1, Count)
    end.

spawn_n(0, _Fun) -> ok;
spawn_n(N, Fun) -> spawn(Fun), spawn_n(N - 1, Fun).

%% ring_hop: ns per hop. The token carries the hops still to make; the
%% node that gets 0 reports its index, which must be HOPS rem SIZE.
ring_hop() ->
    Self = self(),
    Nodes = [spawn(fun() -> ring_node_init(I, Self) end)
             || I <- lists:seq(0, ?RING_SIZE - 1)],
    [First | Rest] = Nodes,
    lists:foreach(fun({Node, Next}) -> Node ! {next, Next} end,
                  lists:zip(Nodes, Rest ++ [First])),
    T0 = now_ns(),
    First ! ?RING_HOPS,
    Last = receive {ring_done, Index} -> Index end,
    T1 = now_ns(),
    lists:foreach(fun(Node) -> Node ! stop end, Nodes),
    Expect = ?RING_HOPS rem ?RING_SIZE,
    check(Last =:= Expect, {finished_at, Last, expected, Expect}),
    {ok, (T1 - T0) / ?RING_HOPS}.

ring_node_init(Index, Main) ->
    receive {next, Next} -> ring_node(Next, Index, Main) end.

ring_node(Next, Index, Main) ->
    receive
        0 ->
            Main ! {ring_done, Index},
            ring_node(Next, Index, Main);
        Hops when is_integer(Hops) ->
            Next ! Hops - 1,
            ring_node(Next, Index, Main);
        stop ->
            ok
    end.

%% pingpong: ns per round trip between two processes.
pingpong() ->
    Self = self(),
    Ponger = spawn(fun() -> ponger(0) end),
    T0 = now_ns(),
    ping(Ponger, Self, ?PINGPONG_TRIPS),
    T1 = now_ns(),
    Ponger ! {stop, Self},
    Count = receive {pong_count, C} -> C end,
    check(Count =:= ?PINGPONG_TRIPS, {round_trips, Count}),
    {ok, (T1 - T0) / ?PINGPONG_TRIPS}.

ping(_Ponger, _Self, 0) ->
    ok;
ping(Ponger, Self, N) ->
    Ponger ! {ping, Self},
    receive pong -> ping(Ponger, Self, N - 1) end.

ponger(Count) ->
    receive
        {ping, From} ->
            From ! pong,
            ponger(Count + 1);
        {stop, From} ->
            From ! {pong_count, Count}
    end.

%% skynet: ms for the whole tree of 1,000,000 leaves.
skynet() ->
    Self = self(),
    T0 = now_ns(),
    spawn(fun() -> skynet(Self, 0, ?SKYNET_SIZE, ?SKYNET_DIV) end),
    Sum = receive S -> S end,
    T1 = now_ns(),
    check(Sum =:= ?SKYNET_SUM, {sum, Sum}),
    {ok, (T1 - T0) / 1000000}.

skynet(Parent, Num, 1, _Div) ->
    Parent ! Num;
skynet(Parent, Num, Size, Div) ->
    Self = self(),
    Sub = Size div Div,
    skynet_spawn(Self, Num, Sub, Div, 0),
    Parent ! skynet_sum(Div, 0).

skynet_spawn(_Self, _Num, _Sub, Div, Div) ->
    ok;
skynet_spawn(Self, Num, Sub, Div, I) ->
    Child = Num + I * Sub,
    spawn(fun() -> skynet(Self, Child, Sub, Div) end),
    skynet_spawn(Self, Num, Sub, Div, I + 1).

skynet_sum(0, Sum) -> Sum;
skynet_sum(N, Sum) -> receive S -> skynet_sum(N - 1, Sum + S) end.

%% idle_process_bytes: growth of the OS process's resident set per idle
%% process, read from /proc/self/statm as the other two sides do.
idle_process_bytes() ->
    process_flag(message_queue_data, off_heap),
    PageSize = page_size(),
    Before = rss_pages(),
    Self = self(),
    spawn_n(?IDLE_PROCS, fun() -> Self ! ready, receive stop -> ok end end),
    Ready = collect_ready(?IDLE_PROCS, 0),
    check(Ready =:= ?IDLE_PROCS, {ready, Ready}),
    timer:sleep(?IDLE_SETTLE_MS),
    After = rss_pages(),
    {ok, (After - Before) * PageSize / ?IDLE_PROCS}.

collect_ready(0, Count) -> Count;
collect_ready(N, Count) -> receive ready -> collect_ready(N - 1, Count + 1) end.

rss_pages() ->
    {ok, Statm} = file:read_file("/proc/self/statm"),
    [_Size, Resident | _] = binary:split(Statm, <<" ">>, [global]),
    binary_to_integer(Resident).

page_size() ->
    case string:to_integer(os:cmd("getconf PAGESIZE")) of
        {N, _} when is_integer(N), N > 0 -> N;
        _ -> 4096
    end.

check(true, _What) -> ok;
check(false, What) -> throw({wrong_result, What}).
