%% The gen_server the supervision workloads of beam_bench use, the same
%% server as grove_bench.c's: {call, N} is answered with N + 1, count with
%% the number of such calls served. Started with a pid, init tells that
%% pid it started, so a benchmark can wait for a supervisor's restarts.
-module(bench_server).
-behaviour(gen_server).
-export([start/0, start_link/1, start_link_named/2]).
-export([init/1, handle_call/3, handle_cast/2]).

start() -> gen_server:start(?MODULE, none, []).

start_link(Notify) -> gen_server:start_link(?MODULE, Notify, []).

start_link_named(Name, Notify) ->
    gen_server:start_link({local, Name}, ?MODULE, Notify, []).

init(none) -> {ok, 0};
init(Notify) when is_pid(Notify) -> Notify ! ready, {ok, 0}.

handle_call({call, N}, _From, Count) -> {reply, N + 1, Count + 1};
handle_call(count, _From, Count) -> {reply, Count, Count}.

handle_cast(_Msg, Count) -> {noreply, Count}.
